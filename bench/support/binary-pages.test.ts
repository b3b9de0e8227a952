import { describe, expect, it } from '@jest/globals';
import { component, residentBinaryPages } from './binary-pages.ts';

describe('binary pages', () => {
  it("tells node's parts apart by their symbols", () => {
    expect(component('v8::internal::compiler::turboshaft::GraphVisitor::Visit()')).toBe(
      'V8 TurboFan and Turboshaft',
    );
    expect(component('v8::internal::maglev::MaglevGraphBuilder::Build()')).toBe('V8 Maglev');
    expect(component('v8::internal::wasm::WasmFullDecoder::Decode()')).toBe('V8 wasm');
    expect(component('SSL_CTX_new')).toBe('OpenSSL');
    expect(component('icudt78_dat')).toBe('ICU data');
    expect(component('node::http2::Initialize()')).toBe('node');
  });

  it("sums this process's resident pages of the node binary, V8's among them", async () => {
    const totals = await residentBinaryPages(process.pid);
    const total = [...totals.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(10 * 2 ** 20);
    expect(totals.get('V8, other')).toBeGreaterThan(0);
  });
});

// The ControllerRing health check run by a real Lua VM (fengari, Lua 5.3; the script keeps to Lua 5.1 for
// Argo CD's gopher-lua), on rings as the API server returns them.
import { describe, expect, it } from '@jest/globals';
import fengari from 'fengari';
import { controllerRingHealthScript } from './argocd.ts';

const { lua, lauxlib, lualib, to_luastring } = fengari;

type LuaState = ReturnType<typeof lauxlib.luaL_newstate>;

/** Pushes JSON as Lua values; numbers become floats, as in Argo CD, whose objects come from JSON. */
function push(L: LuaState, value: unknown): void {
  if (value === null || value === undefined) lua.lua_pushnil(L);
  else if (typeof value === 'number') lua.lua_pushnumber(L, value);
  else if (typeof value === 'boolean') lua.lua_pushboolean(L, value);
  else if (typeof value === 'string') lua.lua_pushstring(L, to_luastring(value));
  else if (Array.isArray(value)) {
    lua.lua_createtable(L, value.length, 0);
    value.forEach((item, index) => {
      push(L, item);
      lua.lua_rawseti(L, -2, index + 1);
    });
  } else {
    lua.lua_createtable(L, 0, 0);
    for (const [key, item] of Object.entries(value)) {
      push(L, item);
      lua.lua_setfield(L, -2, to_luastring(key));
    }
  }
}

function health(ring: object): { status: string | null; message: string | null } {
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  push(L, ring);
  lua.lua_setglobal(L, to_luastring('obj'));
  if (lauxlib.luaL_loadstring(L, to_luastring(controllerRingHealthScript())) !== lua.LUA_OK) {
    throw new Error(`the script does not compile: ${String(lua.lua_tojsstring(L, -1))}`);
  }
  if (lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK) {
    throw new Error(`the script failed: ${String(lua.lua_tojsstring(L, -1))}`);
  }
  const field = (name: string): string | null => {
    lua.lua_getfield(L, -1, to_luastring(name));
    const text = lua.lua_tojsstring(L, -1);
    lua.lua_pop(L, 1);
    return text;
  };
  return { status: field('status'), message: field('message') };
}

function ring(generation: number, status?: object): object {
  return {
    apiVersion: 'sharding.controller-rings.io/v1alpha1',
    kind: 'ControllerRing',
    metadata: { name: 'example', generation },
    spec: { resources: [{ resource: 'configmaps' }] },
    ...(status === undefined ? {} : { status }),
  };
}

function ready(status: 'True' | 'False' | 'Unknown', reason: string, message: string): object {
  return {
    type: 'Ready',
    status,
    reason,
    message,
    lastTransitionTime: '2026-11-26T10:00:00Z',
    observedGeneration: 2,
  };
}

describe('ControllerRing health check', () => {
  it('is Progressing while the ring has no status yet', () => {
    expect(health(ring(1))).toEqual({
      status: 'Progressing',
      message: "Waiting for the sharder to report the ring's status",
    });
  });

  it('is Progressing while the sharder has not observed the current generation', () => {
    const status = {
      observedGeneration: 1,
      conditions: [ready('True', 'ShardsAvailable', '2 of 2 shards are available')],
    };
    expect(health(ring(2, status))).toEqual({
      status: 'Progressing',
      message: 'Waiting for the sharder to observe generation 2',
    });
    expect(health(ring(2, { conditions: [] }))).toMatchObject({ status: 'Progressing' });
  });

  it('is Healthy when Ready is True for the current generation', () => {
    const status = {
      observedGeneration: 2,
      shards: 3,
      availableShards: 2,
      conditions: [
        { type: 'Other', status: 'False', reason: 'Unrelated', message: 'not about readiness' },
        ready('True', 'ShardsAvailable', '2 of 3 shards are available'),
      ],
    };
    expect(health(ring(2, status))).toEqual({ status: 'Healthy', message: '2 of 3 shards are available' });
  });

  it("is Degraded when Ready is False, with the condition's reason and message", () => {
    const message =
      'the sharder may not list or patch configmaps: grant its service account these verbs in a ClusterRole';
    const status = { observedGeneration: 2, conditions: [ready('False', 'Forbidden', message)] };
    expect(health(ring(2, status))).toEqual({ status: 'Degraded', message: `Forbidden: ${message}` });
  });

  it('is Progressing while the Ready condition is missing or Unknown', () => {
    expect(health(ring(2, { observedGeneration: 2 }))).toMatchObject({ status: 'Progressing' });
    const unknown = { observedGeneration: 2, conditions: [ready('Unknown', 'Starting', 'starting')] };
    expect(health(ring(2, unknown))).toEqual({
      status: 'Progressing',
      message: 'Waiting for the Ready condition',
    });
  });
});

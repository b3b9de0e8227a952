// The part of fengari (a Lua VM in JavaScript, which ships no types) that the health check's test uses.
declare module 'fengari' {
  type LuaState = object;
  type LuaString = Uint8Array;
  const fengari: {
    to_luastring: (text: string) => LuaString;
    lua: {
      LUA_OK: number;
      lua_createtable(L: LuaState, arrayItems: number, fields: number): void;
      lua_setfield(L: LuaState, index: number, key: LuaString): void;
      lua_rawseti(L: LuaState, index: number, n: number): void;
      lua_pushnumber(L: LuaState, value: number): void;
      lua_pushboolean(L: LuaState, value: boolean): void;
      lua_pushstring(L: LuaState, value: LuaString): void;
      lua_pushnil(L: LuaState): void;
      lua_setglobal(L: LuaState, name: LuaString): void;
      lua_pcall(L: LuaState, args: number, results: number, handler: number): number;
      lua_getfield(L: LuaState, index: number, key: LuaString): number;
      lua_tojsstring(L: LuaState, index: number): string | null;
      lua_pop(L: LuaState, n: number): void;
    };
    lauxlib: {
      luaL_newstate(): LuaState;
      luaL_loadstring(L: LuaState, source: LuaString): number;
    };
    lualib: { luaL_openlibs(L: LuaState): void };
  };
  export default fengari;
}

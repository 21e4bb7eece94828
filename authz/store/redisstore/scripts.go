package redisstore

import "github.com/redis/go-redis/v9"

// Every script touches keys of one hash slot only (the {rev} tag, or one
// user's {u:…} tag, which holds all of that user's refresh families), so
// they run unchanged on Redis Cluster.

// revokeTokens: KEYS[1] revoked-jti sorted set. ARGV[1] now (ms, prune
// below), ARGV[2] channel, ARGV[3] payload to publish ("" for none), then
// pairs jti, expiry (ms). An entry's score only moves forward.
var revokeTokens = redis.NewScript(`
local z = KEYS[1]
for i = 4, #ARGV, 2 do
  local cur = redis.call('ZSCORE', z, ARGV[i])
  if (not cur) or tonumber(cur) < tonumber(ARGV[i+1]) then
    redis.call('ZADD', z, ARGV[i+1], ARGV[i])
  end
end
redis.call('ZREMRANGEBYSCORE', z, '-inf', '(' .. ARGV[1])
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1
`)

// revokeSubject: KEYS[1] watermark hash (subject -> before ms), KEYS[2]
// forget sorted set (subject -> forget-at ms). ARGV[1] subject, ARGV[2]
// before, ARGV[3] forget-at, ARGV[4] now, ARGV[5] channel, ARGV[6] payload
// ("" for none). Both values only move forward.
var revokeSubject = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
local f = redis.call('ZSCORE', KEYS[2], ARGV[1])
if (not f) or tonumber(f) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4], 'LIMIT', 0, 100)
for _, s in ipairs(old) do
  redis.call('HDEL', KEYS[1], s)
  redis.call('ZREM', KEYS[2], s)
end
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return 1
`)

// liveMembers is a Lua function for the family scripts: it appends to out
// the access tokens (jti, exp pairs) of family's members that are still
// live at now, and returns out.
const liveMembers = `
local function live_members(family, now, out)
  local all = redis.call('HGETALL', family)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'm:' then
      local sep = string.find(all[i+1], '|', 1, true)
      local jti = string.sub(all[i+1], 1, sep - 1)
      local exp = string.sub(all[i+1], sep + 1)
      if jti ~= '' and tonumber(exp) > now then
        table.insert(out, jti)
        table.insert(out, exp)
      end
    end
  end
  return out
end
`

// createRefresh stores a refresh token and, for a new family, enforces
// the user's cap in the same step: KEYS[1] the user's family list (oldest
// first), KEYS[2] the family hash, KEYS[3] the record hash, KEYS[4] the
// family's member list (oldest first). ARGV[1] record
// JSON, ARGV[2] expiry, ARGV[3] family expiry, ARGV[4] access jti,
// ARGV[5] access expiry, ARGV[6] id, ARGV[7] TTL (ms), ARGV[8] now (ms),
// ARGV[9] the cap (0: none), ARGV[10] family, ARGV[11] the user's key
// prefix (its other families' keys are built from it: same slot).
//
// Before a new family is added, the user's expired families are dropped,
// then revoked ones, then the oldest live ones (revoked first: their live
// access tokens are returned) until fewer than the cap remain. Returns
// {'ok', dropped record ids, dropped families, jti/exp pairs to revoke,
// the dropped families that were live (now revoked)}, or {'exists'} / {'famrevoked'}.
var createRefresh = redis.NewScript(liveMembers + `
local fams, fam, rt = KEYS[1], KEYS[2], KEYS[3]
local now, cap, base = tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[11]
if redis.call('EXISTS', rt) == 1 then return {'exists'} end
local rev = redis.call('HGET', fam, 'revoked')
if rev == '1' then return {'famrevoked'} end
local ids, dropped, jtis, revoked = {}, {}, {}, {}
local function drop(f)
  local fk = base .. 'f:' .. f
  local all = redis.call('HGETALL', fk)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'm:' then
      local id = string.sub(all[i], 3)
      redis.call('DEL', base .. 'rt:' .. id)
      table.insert(ids, id)
    end
  end
  redis.call('DEL', fk, base .. 'fm:' .. f)
  redis.call('LREM', fams, 1, f)
  table.insert(dropped, f)
end
if not rev then
  for _, f in ipairs(redis.call('LRANGE', fams, 0, -1)) do
    local fexp = redis.call('HGET', base .. 'f:' .. f, 'fexp')
    if (not fexp) or tonumber(fexp) <= now then drop(f) end
  end
  if cap > 0 then
    local list = redis.call('LRANGE', fams, 0, -1)
    local n = #list
    for _, f in ipairs(list) do
      if n < cap then break end
      if redis.call('HGET', base .. 'f:' .. f, 'revoked') == '1' then drop(f); n = n - 1 end
    end
    for _, f in ipairs(list) do
      if n < cap then break end
      if redis.call('HGET', base .. 'f:' .. f, 'revoked') == '0' then
        live_members(base .. 'f:' .. f, now, jtis)
        drop(f)
        n = n - 1
        table.insert(revoked, f)
      end
    end
  end
  redis.call('RPUSH', fams, ARGV[10])
end
redis.call('HSET', rt, 'rec', ARGV[1], 'exp', ARGV[2], 'fexp', ARGV[3], 'spent', '0')
redis.call('HSET', fam, 'revoked', '0', 'fexp', ARGV[3], 'm:' .. ARGV[6], ARGV[4] .. '|' .. ARGV[5])
redis.call('RPUSH', KEYS[4], ARGV[6])
redis.call('PEXPIRE', rt, ARGV[7])
local ttl = tonumber(ARGV[7])
for _, k in ipairs({fam, fams, KEYS[4]}) do
  if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
end
return {'ok', ids, dropped, jtis, revoked}
`)

// rotateRefresh: KEYS[1] spent record, KEYS[2] family, KEYS[3] next
// record, KEYS[4] the family's member list. ARGV[1] now (ms), ARGV[2] next
// JSON, ARGV[3] next expiry, ARGV[4] family expiry, ARGV[5] next access
// jti, ARGV[6] its expiry, ARGV[7] next id, ARGV[8] TTL (ms), ARGV[9] how
// many spent members a family keeps (store.MaxSpentPerFamily), ARGV[10]
// the user's key prefix.
//
// Returns {'ok', spent JSON, id, "jti|exp", id, "jti|exp"…} (the members
// forgotten past the bound: the caller deletes their indexes and revokes
// their access tokens still live), {'reused', jti, exp, jti, exp…} (the
// family is now revoked; the caller revokes those access tokens), or a
// bare status: 'notfound', 'famrevoked', 'exists'.
var rotateRefresh = redis.NewScript(liveMembers + `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'notfound'} end
if redis.call('HGET', KEYS[2], 'revoked') ~= '0' then return {'famrevoked'} end
local r = redis.call('HMGET', KEYS[1], 'spent', 'exp', 'fexp', 'rec')
local now = tonumber(ARGV[1])
if r[1] == '1' then
  redis.call('HSET', KEYS[2], 'revoked', '1')
  return live_members(KEYS[2], now, {'reused'})
end
if now >= tonumber(r[2]) or now >= tonumber(r[3]) then return {'notfound'} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'exists'} end
redis.call('HSET', KEYS[1], 'spent', '1')
redis.call('HSET', KEYS[3], 'rec', ARGV[2], 'exp', ARGV[3], 'fexp', ARGV[4], 'spent', '0')
redis.call('PEXPIRE', KEYS[3], ARGV[8])
redis.call('HSET', KEYS[2], 'm:' .. ARGV[7], ARGV[5] .. '|' .. ARGV[6])
redis.call('RPUSH', KEYS[4], ARGV[7])
local out = {'ok', r[4]}
while redis.call('LLEN', KEYS[4]) > tonumber(ARGV[9]) + 1 do
  local old = redis.call('LPOP', KEYS[4])
  table.insert(out, old)
  table.insert(out, redis.call('HGET', KEYS[2], 'm:' .. old) or '')
  redis.call('HDEL', KEYS[2], 'm:' .. old)
  redis.call('DEL', ARGV[10] .. 'rt:' .. old)
end
return out
`)

// revokeFamily: KEYS[1] family. ARGV[1] now. Returns nil for an unknown
// family, else the live access tokens of its members (jti, exp pairs).
var revokeFamily = redis.NewScript(liveMembers + `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'revoked', '1')
return live_members(KEYS[1], tonumber(ARGV[1]), {})
`)

// attempt is GCRA (store.Throttles): KEYS[1] throttle hash (t: TAT, a:
// when the next attempt conforms, both µs). ARGV[1] now, ARGV[2]
// interval, ARGV[3] tolerance (µs, from store.Limit). A conforming
// attempt is counted and 0 returned; otherwise nothing changes and the
// wait in µs is returned.
//
// Times are µs since the epoch (16 digits, exact in Lua's doubles);
// they are written with string.format('%d') so that no conversion (Lua's
// own tostring keeps only 14 digits) can round them. The key
// expires when the bucket is empty (at TAT), where no entry means the
// same as an entry: nothing is kept longer than it matters.
var attempt = redis.NewScript(thrWrite + `
local now, iv, tol = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('HGET', KEYS[1], 't')) or now
if tat < now then tat = now end
if tat - tol > now then return tat - tol - now end
thr_write(KEYS[1], tat + iv, tol, now)
return 0
`)

// release gives back one slot: the TAT moves back one interval, and the
// key goes when that puts it at rest. Same arguments as attempt.
var release = redis.NewScript(thrWrite + `
local now, iv, tol = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('HGET', KEYS[1], 't'))
if not tat then return 0 end
tat = tat - iv
if tat <= now then
  redis.call('DEL', KEYS[1])
else
  thr_write(KEYS[1], tat, tol, now)
end
return 0
`)

// thrWrite stores a TAT and the instant the next attempt conforms, kept
// until the bucket is empty.
const thrWrite = `
local function thr_write(key, tat, tol, now)
  redis.call('HSET', key, 't', string.format('%d', tat), 'a', string.format('%d', tat - tol))
  redis.call('PEXPIRE', key, string.format('%d', math.ceil((tat - now) / 1000)))
end
`

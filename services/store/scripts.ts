/**
 * Lua scripts: each state change of a customer is one script over that customer's keys (one hash tag),
 * so it is atomic on the server and costs one round trip.
 *
 * The scripts also run in the embedded store (ioredis-mock, Lua via fengari), which lacks cjson,
 * redis.error_reply, ZLEXCOUNT and XTRIM: failures are signalled through the return value
 * ({'ERR', code, params...}), counts are kept in a hash, and the audit log is a capped list.
 *
 * Calling convention of the mutating scripts:
 *   KEYS[1..11] the customer's fixed keys (CUSTOMER_KEY_NAMES order), KEYS[12..15] the operation's record: its
 *   legacy key, its bucket in the current, the previous and the next generation (KeyLayout.operationRecords),
 *   KEYS[16..]  user keys.
 *   ARGV[1] now (ms), ARGV[2] the operation record: '0' = not idempotent, else the current bucket's time to live (ms),
 *   a space and the operation id; ARGV[3] actor id, ARGV[4] actor name, ARGV[5] action, ARGV[6] audit target,
 *   ARGV[7..] script-specific.
 * Result: {'OK', ..., moved counters} or {'ERR', code, params...}; a replayed operation returns {'REPLAY', <stored result>}
 * (without the counters). "moved counters" is the last element: field \031 new value \031 ... of the counters the
 * change moved ('' when none), read by RedisDirectory.mutate and not passed on.
 */

import { USER_ROLES } from '../types';

const PRELUDE = `
local K_CUSTOMER, K_SKUS, K_SEATS, K_COUNTS, K_UPN = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local K_ACTIVE, K_UNLIC, K_LIC, K_ROLE, K_DELETED, K_AUDIT = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local K_OP_LEGACY, K_OPS, K_OPS_PREV, K_OPS_NEXT = KEYS[12], KEYS[13], KEYS[14], KEYS[15]
local FIRST_USER_KEY = 16
local SEP = '\\001'
-- Timestamps are written from ARGV as strings: the embedded Lua prints large numbers as floats.
local NOW = tonumber(ARGV[1])
-- nil, nil when not idempotent. The id rides in ARGV[2] so that the script-specific arguments keep their places.
local OP_TTL, OP_ID = string.match(ARGV[2], '^(%d+) (.*)$')
local AUDIT_CAP = 1000
-- The fields a user record is written with. username and domain are the two halves of the UPN, and the sort name is
-- lower(displayName): both are derived, not stored (the sort name is stored, as sortKey, only when this Lua's
-- string.lower, ASCII only, cannot recompute the one the service computed, i.e. for non-ASCII names). Records written
-- before keep username, domain and sortKey (then lower(displayName) SEP lower(UPN)), and those stay in step
-- (LEGACY_FIELDS in writeUser).

local function split(s)
  local t = {}
  if not s or s == '' then return t end
  for item in string.gmatch(s, '([^,]+)') do t[#t + 1] = item end
  return t
end

local function sortedKeys(set)
  local t = {}
  for k in pairs(set) do t[#t + 1] = k end
  table.sort(t)
  return t
end

local function inList(csv, value)
  for _, v in ipairs(split(csv)) do if v == value then return true end end
  return false
end

local function loadUser(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local u = {}
  for i = 1, #flat, 2 do u[flat[i]] = flat[i + 1] end
  -- The id is the key's last part; records written before layout 3 also store it (always equal).
  u.id = string.match(key, ':user:(.+)$')
  return u
end

local function writeUser(key, u)
  -- Built here, not at the top: a table built on every call costs every script, and only create and restore write
  -- a whole user.
  local USER_FIELDS = {'upn','displayName','firstName','lastName','usageLocation','role',
    'licenses','state','createdAt','deletedAt','rememberedLicenses','version','pwHash','mustChange'}
  local LEGACY_FIELDS = {'username','domain','sortKey'}
  local OMITTED_WHEN_EMPTY = {deletedAt = true, rememberedLicenses = true, pwHash = true}
  local args = {}
  for _, f in ipairs(USER_FIELDS) do
    -- Fields that are empty while the user is active (deletion time, remembered licenses, no password) are left out,
    -- and so is mustChange = '0' (a missing flag reads as not set).
    if (not OMITTED_WHEN_EMPTY[f] or (u[f] and u[f] ~= '')) and not (f == 'mustChange' and u[f] == '0') then
      args[#args + 1] = f
      args[#args + 1] = tostring(u[f] or '')
    end
  end
  for _, f in ipairs(LEGACY_FIELDS) do
    if u[f] and u[f] ~= '' then
      args[#args + 1] = f
      args[#args + 1] = tostring(u[f])
    end
  end
  redis.call('HSET', key, unpack(args))
end

local function domainOf(upn)
  return string.match(upn, '@([^@]*)$') or ''
end

-- The sort name this Lua computes from the display name; a stored one wins (non-ASCII names). An older record's
-- stored sortKey is lower(displayName) SEP lower(UPN): its name is the part before SEP.
local function sortNameOf(u)
  if u.sortKey and u.sortKey ~= '' then return (string.match(u.sortKey, '^[^' .. SEP .. ']*')) end
  return string.lower(u.displayName)
end

local function userIdOf(key)
  return string.match(key, ':user:(.+)$')
end

-- The user a single-user change names, active and at the version the caller saw ('' = any); else nil and the refusal.
local function activeUserAt(key, expected)
  local u = loadUser(key)
  if not u then return nil, {'ERR', 'USER_NOT_FOUND', userIdOf(key)} end
  if u.state ~= 'active' then return nil, {'ERR', 'NOT_ACTIVE', u.id} end
  if expected ~= '' and expected ~= u.version then return nil, {'ERR', 'STALE', u.id} end
  return u
end

-- Counter changes are summed here and written by finish in two commands (HMGET, HSET) instead of one HINCRBY each
-- (five to seven for a create, delete or restore): fewer commands per script. Readers within the script add what is pending (seatsLeft).
local pending, pendingFields = {}, {}
local function count(field, delta)
  if pending[field] == nil then
    pending[field] = 0
    pendingFields[#pendingFields + 1] = field
  end
  pending[field] = pending[field] + delta
end
-- Returns the moved counters' new values (field, value, ...): the client updates the subscriptions it keeps with them.
local function writeCounts()
  local written = {}
  if #pendingFields <= 2 then
    -- One or two fields (a license change: the license and the version): HINCRBY each is as cheap.
    for _, f in ipairs(pendingFields) do
      written[#written + 1] = f
      written[#written + 1] = tostring(redis.call('HINCRBY', K_COUNTS, f, pending[f]))
    end
    return written
  end
  local current = redis.call('HMGET', K_COUNTS, unpack(pendingFields))
  for i, f in ipairs(pendingFields) do
    written[#written + 1] = f
    written[#written + 1] = tostring((current[i] and tonumber(current[i]) or 0) + pending[f])
  end
  redis.call('HSET', K_COUNTS, unpack(written))
  return written
end

-- An index entry: the sort name and the id (unique, so equal names are ordered by id). The UPN is not in it (it was,
-- up to layout 2: 35-45 bytes more in each of a user's three or four entries); the text search finds UPNs in K_UPN.
local function member(u)
  return sortNameOf(u) .. SEP .. u.id
end

-- Plain users ('user', most of them) have no idx:role entry: a role=user listing walks idx:active without the admins.
local function roleIndexed(role)
  return role ~= 'user'
end

-- Indexes and counters of an active user; always called in pairs around a change.
local function indexAdd(u)
  local m = member(u)
  redis.call('ZADD', K_ACTIVE, 0, m)
  if roleIndexed(u.role) then redis.call('ZADD', K_ROLE, 0, u.role .. SEP .. m) end
  redis.call('HSET', K_UPN, string.lower(u.upn), u.id)
  count('active', 1)
  count('role:' .. u.role, 1)
  local lic = split(u.licenses)
  if #lic == 0 then
    redis.call('ZADD', K_UNLIC, 0, m)
    count('unlicensed', 1)
  end
  for _, s in ipairs(lic) do
    redis.call('ZADD', K_LIC, 0, s .. SEP .. m)
    count('lic:' .. s, 1)
  end
end

local function indexRemove(u)
  local m = member(u)
  redis.call('ZREM', K_ACTIVE, m)
  if roleIndexed(u.role) then redis.call('ZREM', K_ROLE, u.role .. SEP .. m) end
  redis.call('HDEL', K_UPN, string.lower(u.upn))
  count('active', -1)
  count('role:' .. u.role, -1)
  local lic = split(u.licenses)
  if #lic == 0 then
    redis.call('ZREM', K_UNLIC, m)
    count('unlicensed', -1)
  end
  for _, s in ipairs(lic) do
    redis.call('ZREM', K_LIC, s .. SEP .. m)
    count('lic:' .. s, -1)
  end
end

-- Seats left for a license, or nil when the customer has no such subscription.
local function seatsLeft(sku)
  local total = redis.call('HGET', K_SEATS, sku)
  if not total then return nil end
  local used = tonumber(redis.call('HGET', K_COUNTS, 'lic:' .. sku) or '0') + (pending['lic:' .. sku] or 0)
  return tonumber(total) - used
end

local function audit(result, detail)
  local entry = table.concat({ARGV[1], ARGV[3], ARGV[4], ARGV[5], ARGV[6], result, detail or ''}, '\\031')
  redis.call('LPUSH', K_AUDIT, entry)
  redis.call('LTRIM', K_AUDIT, 0, AUDIT_CAP - 1)
end

-- The embedded Lua bridge only recognises tables built by a constructor as arrays.
local function reply(t)
  return {unpack(t)}
end

-- Audits the outcome and remembers it under the operation id.
local function finish(res, detail, quiet)
  if res[1] == 'ERR' and res[2] == 'CUSTOMER_NOT_FOUND' then return res end
  if not quiet then
    if res[1] == 'OK' then audit('ok', detail) else
      local params = {}
      for i = 3, #res do params[#params + 1] = tostring(res[i]) end
      audit(res[2], table.concat(params, ' '))
    end
  end
  if OP_ID then
    redis.call('HSET', K_OPS, OP_ID, table.concat(res, '\\031'))
    -- Every time rather than once per bucket: finding out costs a command as well (PTTL), and every write to a bucket
    -- names the same end of the next generation.
    redis.call('PEXPIRE', K_OPS, OP_TTL)
  end
  -- The customer's version: every applied change moves it, so a cached listing is current while it stands still.
  if res[1] == 'OK' and not quiet then count('ver', 1) end
  local written = writeCounts()
  if res[1] ~= 'OK' then return reply(res) end
  -- An applied change also answers with the counters it moved, as one last element (not kept in the operation record:
  -- a replay has none), so the client need not read the customer's counters again.
  local out = {unpack(res)}
  out[#out + 1] = table.concat(written, '\\031')
  return reply(out)
end

if OP_ID then
  -- The next generation's bucket: written by an instance whose clock is ahead of this one's (or before this clock
  -- jumped back). The legacy key holds records written before the buckets (48 h): its lookup can go 48 h after every
  -- instance runs this version.
  local prev = redis.call('HGET', K_OPS, OP_ID) or redis.call('HGET', K_OPS_PREV, OP_ID) or redis.call('HGET', K_OPS_NEXT, OP_ID)
    or redis.call('GET', K_OP_LEGACY)
  if prev then return {'REPLAY', prev} end
end
if redis.call('EXISTS', K_CUSTOMER) == 0 then return {'ERR', 'CUSTOMER_NOT_FOUND'} end
`;

const CREATE_USER = `
local function run()
  local u = {id = ARGV[7], upn = ARGV[8], displayName = ARGV[11],
    firstName = ARGV[12], lastName = ARGV[13], usageLocation = ARGV[14], role = ARGV[15], licenses = ARGV[16],
    pwHash = ARGV[17], mustChange = ARGV[18]}
  -- ARGV[9], ARGV[10]: username and domain, the halves of the UPN (not stored). ARGV[19]: the service's sort name.
  if ARGV[19] ~= string.lower(u.displayName) then u.sortKey = ARGV[19] end
  local key = KEYS[FIRST_USER_KEY]
  if not inList(redis.call('HGET', K_CUSTOMER, 'domains'), ARGV[10]) then
    return {'ERR', 'DOMAIN_NOT_IN_CUSTOMER', ARGV[10]}
  end
  if redis.call('HEXISTS', K_UPN, string.lower(u.upn)) == 1 or redis.call('EXISTS', key) == 1 then
    return {'ERR', 'UPN_TAKEN', u.upn}
  end
  for _, s in ipairs(split(u.licenses)) do
    local left = seatsLeft(s)
    if left == nil then return {'ERR', 'UNKNOWN_LICENSE', s} end
    if left < 1 then return {'ERR', 'NO_SEATS', s, left, 1} end
  end
  u.state = 'active'
  u.createdAt = ARGV[1]
  u.deletedAt = ''
  u.rememberedLicenses = ''
  u.version = 1
  writeUser(key, u)
  indexAdd(u)
  return {'OK', u.id, '1'}, u.upn .. ' ' .. u.licenses
end
local res, detail = run()
return finish(res, detail)
`;

/**
 * ARGV[7] licenses to add (csv), ARGV[8] licenses to remove (csv), ARGV[9] only users holding this license
 * ('' = everyone: the "replace" mode moves holders of one license to another), ARGV[10..] expected version per user.
 */
const CHANGE_LICENSES = `
local function run()
  local add, remove = split(ARGV[7]), split(ARGV[8])
  for _, s in ipairs(add) do
    if redis.call('HEXISTS', K_SEATS, s) == 0 then return {'ERR', 'UNKNOWN_LICENSE', s} end
  end
  local plans = {}
  local need = {}
  for i = FIRST_USER_KEY, #KEYS do
    local u = loadUser(KEYS[i])
    if not u then return {'ERR', 'USER_NOT_FOUND', userIdOf(KEYS[i])} end
    if u.state ~= 'active' then return {'ERR', 'NOT_ACTIVE', u.id} end
    local expected = ARGV[10 + i - FIRST_USER_KEY]
    if expected ~= '' and expected ~= u.version then return {'ERR', 'STALE', u.id} end
    local held = {}
    for _, s in ipairs(split(u.licenses)) do held[s] = true end
    local added, removed = {}, {}
    local applies = ARGV[9] == '' or held[ARGV[9]]
    for _, s in ipairs(applies and remove or {}) do
      if held[s] then held[s] = nil; removed[#removed + 1] = s; need[s] = (need[s] or 0) - 1 end
    end
    for _, s in ipairs(applies and add or {}) do
      if not held[s] then held[s] = true; added[#added + 1] = s; need[s] = (need[s] or 0) + 1 end
    end
    plans[#plans + 1] = {u = u, key = KEYS[i], held = held, added = added, removed = removed}
  end
  for _, s in ipairs(add) do
    local n = need[s] or 0
    if n > 0 then
      local left = seatsLeft(s)
      if n > left then return {'ERR', 'NO_SEATS', s, left, n} end
    end
  end
  local res = {'OK', #plans}
  local changedCount = 0
  for _, p in ipairs(plans) do
    local u = p.u
    local changed = (#p.added + #p.removed) > 0
    if changed then
      -- Only the license indexes and counters move; the user keeps its entries in the active, role and UPN indexes.
      local m = member(u)
      local wasUnlicensed = #split(u.licenses) == 0
      for _, s in ipairs(p.removed) do
        redis.call('ZREM', K_LIC, s .. SEP .. m)
        count('lic:' .. s, -1)
      end
      for _, s in ipairs(p.added) do
        redis.call('ZADD', K_LIC, 0, s .. SEP .. m)
        count('lic:' .. s, 1)
      end
      u.licenses = table.concat(sortedKeys(p.held), ',')
      local isUnlicensed = #split(u.licenses) == 0
      if wasUnlicensed and not isUnlicensed then
        redis.call('ZREM', K_UNLIC, m)
        count('unlicensed', -1)
      elseif isUnlicensed and not wasUnlicensed then
        redis.call('ZADD', K_UNLIC, 0, m)
        count('unlicensed', 1)
      end
      u.version = tostring(tonumber(u.version) + 1)
      redis.call('HSET', p.key, 'licenses', u.licenses, 'version', u.version)
      changedCount = changedCount + 1
    end
    res[#res + 1] = u.id
    res[#res + 1] = changed and '1' or '0'
    res[#res + 1] = table.concat(p.added, ',')
    res[#res + 1] = table.concat(p.removed, ',')
    res[#res + 1] = u.version
    -- The names, for the change's card (records written before hold five values per user; res[2] is the count).
    res[#res + 1] = u.displayName or ''
    res[#res + 1] = u.upn or ''
  end
  return res, '+' .. ARGV[7] .. ' -' .. ARGV[8] .. ' users=' .. #plans .. ' changed=' .. changedCount
end
local res, detail = run()
return finish(res, detail)
`;

/** ARGV[7] expected version, ARGV[8] new password hash. */
const RESET_PASSWORD = `
local function run()
  local key = KEYS[FIRST_USER_KEY]
  local u, refused = activeUserAt(key, ARGV[7])
  if not u then return refused end
  local version = tostring(tonumber(u.version) + 1)
  redis.call('HSET', key, 'pwHash', ARGV[8], 'mustChange', '1', 'version', version)
  return {'OK', u.id, version}, u.upn
end
local res, detail = run()
return finish(res, detail)
`;

/** ARGV[7] expected version. Sets signInBlocked; an already blocked user is left as it is (no version bump). */
const BLOCK_SIGN_IN = `
local function run()
  local key = KEYS[FIRST_USER_KEY]
  local u, refused = activeUserAt(key, ARGV[7])
  if not u then return refused end
  if u.signInBlocked == '1' then return {'OK', u.id, u.version, '0'}, u.upn .. ' already blocked' end
  local version = tostring(tonumber(u.version) + 1)
  redis.call('HSET', key, 'signInBlocked', '1', 'version', version)
  return {'OK', u.id, version, '1'}, u.upn
end
local res, detail = run()
return finish(res, detail)
`;

/** ARGV[7..] expected version per user. All or nothing. */
const DELETE_USERS = `
local function run()
  local users = {}
  for i = FIRST_USER_KEY, #KEYS do
    local u = loadUser(KEYS[i])
    if not u then return {'ERR', 'USER_NOT_FOUND', userIdOf(KEYS[i])} end
    if u.state ~= 'active' then return {'ERR', 'NOT_ACTIVE', u.id} end
    local expected = ARGV[7 + i - FIRST_USER_KEY]
    if expected ~= '' and expected ~= u.version then return {'ERR', 'STALE', u.id} end
    users[#users + 1] = {u = u, key = KEYS[i]}
  end
  local res = {'OK', #users}
  local upns = {}
  for _, e in ipairs(users) do
    local u = e.u
    indexRemove(u)
    local version = tostring(tonumber(u.version) + 1)
    redis.call('HSET', e.key, 'state', 'deleted', 'deletedAt', ARGV[1], 'rememberedLicenses', u.licenses,
      'licenses', '', 'version', version)
    redis.call('ZADD', K_DELETED, ARGV[1], u.id)
    count('deleted', 1)
    res[#res + 1] = u.id
    res[#res + 1] = version
    res[#res + 1] = u.licenses
    upns[#upns + 1] = u.upn
  end
  return res, table.concat(upns, ' ')
end
local res, detail = run()
return finish(res, detail)
`;

/** ARGV[7] restore window (ms); then per user: new username ('' = keep), expected version. */
const RESTORE_USERS = `
local function run()
  local window = tonumber(ARGV[7])
  local res = {'OK', #KEYS - FIRST_USER_KEY + 1}
  local summary = {}
  for i = FIRST_USER_KEY, #KEYS do
    local n = i - FIRST_USER_KEY
    local newUsername, expected = ARGV[8 + 2 * n], ARGV[9 + 2 * n]
    local u = loadUser(KEYS[i])
    local status, upn, restored, notRestored = 'OK', '', {}, {}
    if not u then
      status = 'USER_NOT_FOUND'
    else
      upn = u.upn
      if newUsername ~= '' then upn = newUsername .. '@' .. domainOf(u.upn) end
      if u.state ~= 'deleted' then status = 'NOT_DELETED'
      elseif expected ~= '' and expected ~= u.version then status = 'STALE'
      elseif NOW - tonumber(u.deletedAt) > window then status = 'RESTORE_WINDOW_OVER'
      elseif redis.call('HEXISTS', K_UPN, string.lower(upn)) == 1 then status = 'UPN_TAKEN'
      end
    end
    if status == 'OK' then
      for _, s in ipairs(split(u.rememberedLicenses)) do
        local left = seatsLeft(s)
        if left ~= nil and left > 0 then
          restored[#restored + 1] = s
        else
          notRestored[#notRestored + 1] = s
        end
      end
      u.upn = upn
      if u.username and u.username ~= '' then u.username = string.match(upn, '^(.*)@') end
      if u.domain and u.domain ~= '' then u.domain = domainOf(upn) end
      if u.sortKey and u.sortKey ~= '' then
        -- An older record's sort key (name SEP UPN) becomes the sort name; one this Lua can compute is dropped.
        u.sortKey = sortNameOf(u)
        if u.sortKey == string.lower(u.displayName) then u.sortKey = nil; redis.call('HDEL', KEYS[i], 'sortKey') end
      end
      table.sort(restored)
      u.licenses = table.concat(restored, ',')
      u.state = 'active'
      u.deletedAt = ''
      u.rememberedLicenses = ''
      u.version = tostring(tonumber(u.version) + 1)
      redis.call('HDEL', KEYS[i], 'deletedAt', 'rememberedLicenses')
      writeUser(KEYS[i], u)
      indexAdd(u)
      redis.call('ZREM', K_DELETED, u.id)
      count('deleted', -1)
    end
    res[#res + 1] = u and u.id or userIdOf(KEYS[i])
    res[#res + 1] = status
    res[#res + 1] = upn
    res[#res + 1] = table.concat(restored, ',')
    res[#res + 1] = table.concat(notRestored, ',')
    summary[#summary + 1] = upn .. '=' .. status .. (#notRestored > 0 and ('(not restored: ' .. table.concat(notRestored, ',') .. ')') or '')
  end
  return res, table.concat(summary, ' ')
end
local res, detail = run()
return finish(res, detail)
`;

/**
 * Removes users that were just created and never changed since (version 1), for good: the roll-back of an
 * all-or-nothing import that failed half-way. A user someone already touched is kept.
 */
const DISCARD_NEW_USERS = `
local function run()
  local res = {'OK', 0}
  local upns = {}
  for i = FIRST_USER_KEY, #KEYS do
    local u = loadUser(KEYS[i])
    if u and u.state == 'active' and u.version == '1' then
      indexRemove(u)
      redis.call('DEL', KEYS[i])
      res[2] = res[2] + 1
      upns[#upns + 1] = u.upn
    end
  end
  return res, table.concat(upns, ' ')
end
local res, detail = run()
return finish(res, detail)
`;

/** ARGV[7] cutoff (ms): users deleted at or before it are removed for good. Safe to run concurrently. */
const PURGE_USERS = `
local function run()
  local cutoff = tonumber(ARGV[7])
  local res = {'OK', 0}
  local upns = {}
  for i = FIRST_USER_KEY, #KEYS do
    local id = userIdOf(KEYS[i])
    local score = redis.call('ZSCORE', K_DELETED, id)
    if score and tonumber(score) <= cutoff then
      local upn = redis.call('HGET', KEYS[i], 'upn')
      redis.call('DEL', KEYS[i])
      redis.call('ZREM', K_DELETED, id)
      count('deleted', -1)
      res[2] = res[2] + 1
      res[#res + 1] = id
      upns[#upns + 1] = upn or id
    end
  end
  return res, table.concat(upns, ' '), res[2] == 0
end
local res, detail, quiet = run()
return finish(res, detail, quiet)
`;

/** ARGV[7] id, ARGV[8] name, ARGV[9] domains (csv), ARGV[10..] triples skuId, name, seats. */
const UPSERT_CUSTOMER = `
local function run()
  local changed = {}
  for i = 10, #ARGV, 3 do
    local sku, name, seats = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
    local used = tonumber(redis.call('HGET', K_COUNTS, 'lic:' .. sku) or '0')
    if seats < used then return {'ERR', 'SEATS_BELOW_ASSIGNED', sku, used, seats} end
  end
  -- Migration of the layout before plain users left idx:role: their entries there are dropped (idempotent; a store
  -- written by this version has none, and no reader looks at them).
  -- (ZRANGEBYLEX + ZREM: the embedded store has no ZREMRANGEBYLEX.)
  while true do
    local plain = redis.call('ZRANGEBYLEX', K_ROLE, '[user' .. SEP, '(user\\002', 'LIMIT', 0, 500)
    if #plain == 0 then break end
    redis.call('ZREM', K_ROLE, unpack(plain))
  end
  local before = redis.call('HMGET', K_CUSTOMER, 'name', 'domains')
  if before[1] ~= ARGV[8] or before[2] ~= ARGV[9] then changed[#changed + 1] = 'customer' end
  redis.call('HSET', K_CUSTOMER, 'id', ARGV[7], 'name', ARGV[8], 'domains', ARGV[9])
  for i = 10, #ARGV, 3 do
    local sku = ARGV[i]
    if redis.call('HGET', K_SKUS, sku) ~= ARGV[i + 1] or redis.call('HGET', K_SEATS, sku) ~= ARGV[i + 2] then
      changed[#changed + 1] = sku .. '=' .. ARGV[i + 2]
    end
    redis.call('HSET', K_SKUS, sku, ARGV[i + 1])
    redis.call('HSET', K_SEATS, sku, ARGV[i + 2])
  end
  return {'OK', #changed}, table.concat(changed, ' '), #changed == 0
end
local res, detail, quiet = run()
return finish(res, detail, quiet)
`;

/**
 * Read-only page of users, sorted by display name.
 * KEYS: counts, idx:active, idx:unlicensed, idx:license, idx:role, upn.
 * ARGV: filter kind (all|licensed|unlicensed|license), sku, role, lower-case search text, offset, limit, and the
 * customer version of the caller's cached page ('' = none): while it is current the reply is just {'SAME'}.
 * Without extra conditions it reads only the page (counts come from the counters); with them it walks
 * one index in chunks on the server and never ships non-matching users to the client.
 * Returns {total, version, member...} where member = "<sort name>\\001<userId>".
 */
/** The roles that have idx:role entries, as a Lua list. */
const ADMIN_ROLES_LUA = USER_ROLES.filter((r) => r !== 'user').map((r) => `'${r}'`).join(', ');

const LIST_USERS = `
local K_COUNTS, K_ACTIVE, K_UNLIC, K_LIC, K_ROLE, K_UPN = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local kind, sku, role, search = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local offset, limit = tonumber(ARGV[5]), tonumber(ARGV[6])
local SEP = '\\001'
-- Plain users ('user') have no idx:role entry: they are the active users who are not in idx:role under an admin role.
local plainUsers = role == 'user'
local src, prefix, countField
if kind == 'license' then src, prefix, countField = K_LIC, sku .. SEP, 'lic:' .. sku
elseif role ~= '' and not plainUsers then src, prefix, countField = K_ROLE, role .. SEP, 'role:' .. role
elseif kind == 'unlicensed' then src, prefix, countField = K_UNLIC, '', 'unlicensed'
elseif plainUsers then src, prefix, countField = K_ACTIVE, '', 'role:user'
else src, prefix, countField = K_ACTIVE, '', 'active' end
local needRole = role ~= '' and src ~= K_ROLE
local needLicensed = kind == 'licensed'
local needUnlicensed = kind == 'unlicensed' and src ~= K_UNLIC
local admins = {}
if plainUsers then
  for _, r in ipairs({${ADMIN_ROLES_LUA}}) do
    for _, m in ipairs(redis.call('ZRANGEBYLEX', K_ROLE, '[' .. r .. SEP, '(' .. r .. '\\002')) do
      admins[string.sub(m, #r + 2)] = true
    end
  end
end
local function hasRole(base)
  if plainUsers then return not admins[base] end
  return redis.call('ZSCORE', K_ROLE, role .. SEP .. base) ~= false
end
local min, max = '-', '+'
if prefix ~= '' then min, max = '[' .. prefix, '(' .. string.sub(prefix, 1, -2) .. '\\002' end
local plen = #prefix
-- The customer's version (moved by every change): the caller's cached page is still right while it is the same.
local counted = redis.call('HMGET', K_COUNTS, countField, 'ver')
local version = counted[2] or '0'
if ARGV[7] ~= '' and ARGV[7] == version then return {'SAME'} end
local out = {0, version}
local PAGE = limit + 2
if not needRole and not needLicensed and not needUnlicensed and search == '' then
  out[1] = tonumber(counted[1] or '0')
  for _, m in ipairs(redis.call('ZRANGEBYLEX', src, min, max, 'LIMIT', offset, limit)) do
    out[#out + 1] = string.sub(m, plen + 1)
  end
  return {unpack(out)}
end
-- Only "not an admin" to check: the count is the counter, and the walk stops once the page is full.
local early = plainUsers and src == K_ACTIVE and not needLicensed and search == ''
if early then out[1] = tonumber(counted[1] or '0') end
-- A search matches the sort name (in the entry) or the UPN: the users whose lower-cased UPN contains the text, from
-- K_UPN (lower(UPN) -> id, active users), matched by Redis itself (HSCAN MATCH). A UPN never holds a glob character
-- (* ? [ ] \, refused by validation), so a text with one matches no UPN and is not scanned for.
local upnHits = {}
if search ~= '' and not string.find(search, '[%*%?%[%]\\\\]') then
  local pattern = '*' .. search .. '*'
  local cursor = '0'
  repeat
    local scanned = redis.call('HSCAN', K_UPN, cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = tostring(scanned[1])
    local list = scanned[2]
    -- The embedded Lua bridge numbers a nested array from 0.
    local i = list[0] ~= nil and 0 or 1
    while list[i + 1] ~= nil do upnHits[list[i + 1]] = true; i = i + 2 end
  until cursor == '0'
end
local CHUNK = 500
local total = 0
while true do
  local chunk = redis.call('ZRANGEBYLEX', src, min, max, 'LIMIT', 0, CHUNK)
  for _, m in ipairs(chunk) do
    local base = string.sub(m, plen + 1)
    local ok = true
    if search ~= '' then
      local idStart = string.find(base, SEP .. '[^' .. SEP .. ']*$')
      local at = string.find(base, search, 1, true)
      ok = (at ~= nil and at < idStart) or upnHits[string.sub(base, idStart + 1)] == true
    end
    if ok and needRole then ok = hasRole(base) end
    if ok and needLicensed then ok = redis.call('ZSCORE', K_UNLIC, base) == false end
    if ok and needUnlicensed then ok = redis.call('ZSCORE', K_UNLIC, base) ~= false end
    if ok then
      total = total + 1
      if total > offset and #out < PAGE then out[#out + 1] = base end
    end
  end
  if #chunk < CHUNK or (early and #out >= PAGE) then break end
  min = '(' .. chunk[#chunk]
end
if not early then out[1] = total end
-- a constructor-built table: the embedded Lua bridge only recognises those as arrays
return {unpack(out)}
`;

/**
 * Start-up migration of one customer's index entries to the short form ("<name>\\001<id>", prefixed by the license or
 * role): an entry written before carries the UPN too ("<name>\\001<upn>\\001<id>"), which is dropped. One script per
 * customer, so the customer's indexes change at once (no reader sees both forms); counts.layout = '3' marks it done,
 * and running it again is a no-op. Stored sortKey fields keep their older form: the scripts read its name part.
 * KEYS: counts, idx:active, idx:unlicensed, idx:license, idx:role. Returns {entries rewritten}.
 */
const MIGRATE_LAYOUT = `
local K_COUNTS, K_ACTIVE, K_UNLIC, K_LIC, K_ROLE = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local SEP = '\\001'
if redis.call('HGET', K_COUNTS, 'layout') == '3' then return {0} end
local moved = 0
-- oldSeps: the separators in an entry of the older form (two, or three behind a license or role prefix).
local function migrate(key, oldSeps)
  local from, to = {}, {}
  local min = '-'
  while true do
    local chunk = redis.call('ZRANGEBYLEX', key, min, '+', 'LIMIT', 0, 1000)
    for _, m in ipairs(chunk) do
      local _, seps = string.gsub(m, SEP, '')
      if seps == oldSeps then
        local head, id = string.match(m, '^(.*)' .. SEP .. '[^' .. SEP .. ']*' .. SEP .. '([^' .. SEP .. ']*)$')
        from[#from + 1] = m
        to[#to + 1] = head .. SEP .. id
      end
    end
    if #chunk < 1000 then break end
    min = '(' .. chunk[#chunk]
  end
  for i = 1, #from, 500 do
    local gone, added = {}, {}
    for j = i, math.min(i + 499, #from) do
      gone[#gone + 1] = from[j]
      added[#added + 1] = 0
      added[#added + 1] = to[j]
    end
    redis.call('ZREM', key, unpack(gone))
    redis.call('ZADD', key, unpack(added))
  end
  moved = moved + #from
end
migrate(K_ACTIVE, 2)
migrate(K_UNLIC, 2)
migrate(K_LIC, 3)
migrate(K_ROLE, 3)
redis.call('HSET', K_COUNTS, 'layout', '3')
-- Equal names are now ordered by id: cached pages are read again.
if moved > 0 then redis.call('HINCRBY', K_COUNTS, 'ver', 1) end
return {moved}
`;

export const MUTATING_SCRIPTS = {
  pabCreateUser: CREATE_USER,
  pabChangeLicenses: CHANGE_LICENSES,
  pabResetPassword: RESET_PASSWORD,
  pabDeleteUsers: DELETE_USERS,
  pabBlockSignIn: BLOCK_SIGN_IN,
  pabRestoreUsers: RESTORE_USERS,
  pabPurgeUsers: PURGE_USERS,
  pabDiscardNewUsers: DISCARD_NEW_USERS,
  pabUpsertCustomer: UPSERT_CUSTOMER,
} as const;
export type MutatingScript = keyof typeof MUTATING_SCRIPTS;

export const scriptSources: Record<MutatingScript | 'pabListUsers' | 'pabMigrateLayout', string> = {
  ...(Object.fromEntries(Object.entries(MUTATING_SCRIPTS).map(([name, body]) => [name, PRELUDE + body])) as Record<
    MutatingScript,
    string
  >),
  pabListUsers: LIST_USERS,
  pabMigrateLayout: MIGRATE_LAYOUT,
};

"""The Lua scripts that change the simulated market: each runs atomically inside Redis.

Swap arithmetic repeats `processors.pools.fill_leg` operation for operation (doubles over integer
base units), so a quote and its fill agree exactly on a pool that has not moved."""

from __future__ import annotations

# KEYS[1] venue state, KEYS[2..] pools. ARGV[1] seed, then per pool: field count, fields and values.
# The market is created once: every processor may call this at start-up; later calls change nothing
# (a pool taken off the market stays off).
SEED_LUA = """
if redis.call('HSETNX', KEYS[1], 'seed', ARGV[1]) == 0 then return 0 end
local created, i = 0, 2
for k = 2, #KEYS do
  local n = tonumber(ARGV[i])
  if redis.call('EXISTS', KEYS[k]) == 0 then
    local fields = {}
    for j = 1, n do fields[j] = ARGV[i + j] end
    redis.call('HSET', KEYS[k], unpack(fields))
    created = created + 1
  end
  i = i + n + 1
end
return created
"""

# KEYS[1] submission hash, KEYS[2] the order's failure script, KEYS[3] the global failure script,
# KEYS[4..] one pool per leg.
# ARGV[1] attempt, ARGV[2] min amount out (units), ARGV[3] injected failure code or '',
# ARGV[4] tx hash, ARGV[5] ttl of the submission record (s), ARGV[6] route kind,
# then per leg: token in, amount in (units; '' sells the previous leg's output).
# The first result of each attempt is recorded and returned again on re-submission; once an order
# filled, every submission of it returns that fill: the pools change once per order.
SWAP_LUA = """
local MAX_RESERVE = 9007199254740991.0
local MAX_VARIABLE_FEE = 0.01
local MAX_VOLATILITY = 0.2
local sub, attempt = KEYS[1], ARGV[1]

local function fmt(x) return string.format('%.0f', x) end
local function record(result)
  result.attempt = attempt
  result.tx_hash = ARGV[4]
  local encoded = cjson.encode(result)
  redis.call('HSET', sub, attempt, encoded)
  redis.call('EXPIRE', sub, tonumber(ARGV[5]))
  return encoded
end
local function failed(code) return record({status = 'failed', code = code}) end

local filled = redis.call('HGET', sub, 'filled')
if filled then return redis.call('HGET', sub, filled) end
local previous = redis.call('HGET', sub, attempt)
if previous then return previous end
if redis.call('HEXISTS', sub, 'void') == 1 then return failed('SUBMISSION_VOIDED') end

local code = nil
for k = 2, 3 do
  local entry = redis.call('LINDEX', KEYS[k], 0)
  if entry then
    if string.sub(entry, -1) == '*' then
      code = string.sub(entry, 1, -2)
    else
      redis.call('LPOP', KEYS[k])
      code = entry
    end
    break
  end
end
if code == nil and ARGV[3] ~= '' then code = ARGV[3] end
if code == 'OK' then code = nil end
if code then return failed(code) end

local legs, carry = {}, 0
for i = 1, #KEYS - 3 do
  local key = KEYS[3 + i]
  local token_in, amount = ARGV[5 + 2 * i], ARGV[6 + 2 * i]
  local p = redis.call('HMGET', key, 'pair', 'ra', 'rb', 'oa', 'ob', 'fee', 'dyn', 'vol')
  if not p[1] then return failed('NO_ROUTE') end
  local a_to_b = token_in == string.match(p[1], '^([^/]+)/')
  local ra, rb, oa, ob = tonumber(p[2]), tonumber(p[3]), tonumber(p[4]), tonumber(p[5])
  local base_fee, dyn, vol = tonumber(p[6]), tonumber(p[7]), tonumber(p[8])
  local x = carry
  if amount ~= '' then x = tonumber(amount) end
  local fee = math.ceil(x * (base_fee + math.min(dyn * vol, MAX_VARIABLE_FEE)))
  local net = x - fee
  local vin, vout, real_in, real_out
  if a_to_b then
    vin = ra + oa; vout = rb + ob; real_in = ra; real_out = rb
  else
    vin = rb + ob; vout = ra + oa; real_in = rb; real_out = ra
  end
  if net <= 0 then return failed('AMOUNT_TOO_SMALL') end
  local out = math.floor(vout * net / (vin + net))
  local ideal = math.floor(vout * net / vin)
  if out <= 0 then return failed('AMOUNT_TOO_SMALL') end
  if out >= real_out or real_in + x > MAX_RESERVE then return failed('INSUFFICIENT_LIQUIDITY') end
  local moved = math.abs(1 - ((vout - out) / (vin + x)) / (vout / vin))
  legs[i] = {key = key, a_to_b = a_to_b, x = x, fee = fee, out = out, ideal = ideal,
             ra = ra, rb = rb, vol = math.min(vol + moved, MAX_VOLATILITY)}
  carry = out
end

local total = carry
if ARGV[6] == 'split' then
  total = 0
  for i = 1, #legs do total = total + legs[i].out end
end
if total < tonumber(ARGV[2]) then return failed('SLIPPAGE_EXCEEDED') end

local fills = {}
for i = 1, #legs do
  local leg = legs[i]
  local ra, rb = leg.ra + leg.x, leg.rb - leg.out
  if not leg.a_to_b then ra, rb = leg.ra - leg.out, leg.rb + leg.x end
  redis.call('HSET', leg.key, 'ra', fmt(ra), 'rb', fmt(rb), 'vol', string.format('%.17g', leg.vol))
  fills[i] = {amount_in = fmt(leg.x), fee = fmt(leg.fee), amount_out = fmt(leg.out),
              ideal_out = fmt(leg.ideal)}
end
local encoded = record({status = 'filled', amount_out = fmt(total), legs = fills})
redis.call('HSET', sub, 'filled', attempt)
return encoded
"""

# KEYS[1] submission hash. Voids an order's submissions unless one filled; returns that fill.
VOID_LUA = """
local filled = redis.call('HGET', KEYS[1], 'filled')
if filled then return redis.call('HGET', KEYS[1], filled) end
redis.call('HSET', KEYS[1], 'void', '1')
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return false
"""

# The market over time, one step per step length of Redis time. Each token with a reference price
# (the seeded ones) follows a random walk in USD; arbitrage trades each pool of two such tokens a
# share of the way back to the ratio of their references (a constant-product trade on its virtual
# reserves), with a small move of its own on top, so pools stay near the market however one-sided
# the flow. A pool of a launched token drifts on its own and is pulled back toward its anchor.
# What moved is recorded, atomically with the move, in the market-moves list (the outbox the
# processors append to the log as MarketMoved events).
# KEYS[1] venue state, KEYS[2..n-1] pools, KEYS[n] the market-moves list.
# ARGV[1] seed, [2] drift per step (fraction), [3] pull toward the anchor per step, [4] step length
# (ms), [5] most steps to catch up, [6] share of a reference pool's gap arbitrage closes per step,
# then per pool: token a, token b, their starting log USD prices ('' when none), and the scale
# 10^(decimals b - decimals a). Steps are numbered by Redis time, so many processors calling this
# apply each once; every move of step s is a function of (seed, name, s) alone.
DRIFT_LUA = """
local MAX_RESERVE = 9007199254740991.0
local now = redis.call('TIME')
local epoch = math.floor((tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
                         / tonumber(ARGV[4]))
local last = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '')
if last and epoch <= last then return 0 end
redis.call('HSET', KEYS[1], 'epoch', string.format('%.0f', epoch))
if not last then return 0 end
local steps = math.min(epoch - last, tonumber(ARGV[5]))
local sigma, pull, arb = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[6])
if sigma <= 0 and arb <= 0 then return steps end
local function unit(name, s)  -- uniform in [-0.5, 0.5) times sqrt(12): unit variance
  local h = redis.sha1hex(ARGV[1] .. ':' .. name .. ':' .. string.format('%.0f', s))
  return (tonumber(string.sub(h, 1, 8), 16) / 4294967296 - 0.5) * 3.4641016151377544
end
local pools, refs = {}, {}
for k = 2, #KEYS - 1 do
  local base = 7 + (k - 2) * 5
  local p = redis.call('HMGET', KEYS[k], 'venue', 'pair', 'ra', 'rb', 'oa', 'ob', 'vol', 'anchor')
  if p[1] then
    local pool = {key = KEYS[k], venue = p[1], pair = p[2], ra = tonumber(p[3]),
                  rb = tonumber(p[4]), oa = tonumber(p[5]), ob = tonumber(p[6]),
                  vol = tonumber(p[7]), anchor = tonumber(p[8]), a = ARGV[base],
                  b = ARGV[base + 1], scale = tonumber(ARGV[base + 4])}
    pool.ra0, pool.rb0 = pool.ra, pool.rb
    for i, token in ipairs({pool.a, pool.b}) do
      local start = ARGV[base + 1 + i]
      if start ~= '' and refs[token] == nil then
        refs[token] = tonumber(redis.call('HGET', KEYS[1], 'ref:' .. token) or start)
      end
    end
    pool.tracked = refs[pool.a] ~= nil and refs[pool.b] ~= nil
    pools[#pools + 1] = pool
  end
end
for s = epoch - steps + 1, epoch do
  if sigma > 0 then
    for token, value in pairs(refs) do refs[token] = value + sigma * unit('ref:' .. token, s) end
  end
  for _, pool in ipairs(pools) do
    pool.vol = pool.vol * 0.5
    local va, vb = pool.ra + pool.oa, pool.rb + pool.ob
    local log_move
    if pool.tracked then
      local target = math.exp(refs[pool.a] - refs[pool.b]) * pool.scale
      log_move = 0.25 * sigma * unit(pool.venue .. ':' .. pool.pair, s)
                 - arb * math.log((vb / va) / target)
    else
      log_move = sigma * unit(pool.venue .. ':' .. pool.pair, s)
                 - pull * math.log((vb / va) / pool.anchor)
    end
    local root = math.sqrt(math.exp(log_move))
    local na, nb = math.floor(va / root - pool.oa), math.floor(vb * root - pool.ob)
    if na >= 1 and nb >= 1 and na <= MAX_RESERVE and nb <= MAX_RESERVE then
      pool.ra, pool.rb = na, nb
    end
  end
end
local moved = {}
for _, pool in ipairs(pools) do
  redis.call('HSET', pool.key, 'ra', string.format('%.0f', pool.ra),
             'rb', string.format('%.0f', pool.rb), 'vol', string.format('%.17g', pool.vol))
  if pool.ra ~= pool.ra0 or pool.rb ~= pool.rb0 then
    moved[#moved + 1] = {pool.venue, pool.pair, string.format('%.0f', pool.ra0 + pool.oa),
                         string.format('%.0f', pool.rb0 + pool.ob),
                         string.format('%.0f', pool.ra + pool.oa),
                         string.format('%.0f', pool.rb + pool.ob)}
  end
end
for token, value in pairs(refs) do
  redis.call('HSET', KEYS[1], 'ref:' .. token, string.format('%.17g', value))
end
if #moved > 0 then
  redis.call('RPUSH', KEYS[#KEYS], cjson.encode({epoch = epoch, steps = steps, pools = moved}))
end
return steps
"""

# Open a launched pool unless its venue has the pair already (named either way round).
# KEYS: the pool, the pool named the other way round, the set of launched pools
# ARGV: the set member, then the pool's fields and values
LAUNCH_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""

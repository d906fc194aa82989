-- Sliding-window log over several limits at once, all-or-nothing.
-- KEYS[1] = penalty key ("<until_ms>:<daily 0|1>"), KEYS[2..n+1] = one sorted set per limit.
-- ARGV[1] = permit id, ARGV[2] = n, then (amount, window_ms) per limit.
-- Returns {granted 0|1, free_at_ms, limit index (0 = none, -1 = penalty), daily 0|1, now_ms}.
-- Redis' clock (TIME) is the one clock, so worker hosts with skewed clocks still agree.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local penalty = redis.call('GET', KEYS[1])
if penalty then
  local sep = string.find(penalty, ':')
  local until_ms = tonumber(string.sub(penalty, 1, sep - 1))
  if until_ms > now then
    return {0, until_ms, -1, tonumber(string.sub(penalty, sep + 1)), now}
  end
end
local n = tonumber(ARGV[2])
local worst, worst_i = 0, 0
for i = 1, n do
  local key = KEYS[i + 1]
  local amount = tonumber(ARGV[2 * i + 1])
  local window = tonumber(ARGV[2 * i + 2])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count >= amount then
    -- the slot we need frees when the (count - amount + 1)-th oldest entry leaves the window
    local entry = redis.call('ZRANGE', key, count - amount, count - amount, 'WITHSCORES')
    local free_at = tonumber(entry[2]) + window
    if free_at > worst then worst, worst_i = free_at, i end
  end
end
if worst > 0 then
  return {0, worst, worst_i, 0, now}
end
for i = 1, n do
  redis.call('ZADD', KEYS[i + 1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i + 1], tonumber(ARGV[2 * i + 2]) + 60000)
end
return {1, now, 0, 0, now}

-- Move a permit's timestamp to "now" (the response arrived): Zoho counted the request somewhere between
-- acquire and now, so holding the slot from now on can never let a window at Zoho exceed the limit.
-- KEYS = the limit sorted sets, ARGV[1] = permit id, ARGV[2..] = window_ms per key.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[i + 1]) + 60000)
end
return now

-- Shared by the hot-path bench's wrk scripts: the data file the driver writes (keys, tokens)
-- and done(), which writes wrk's own figures to WRK_OUT as one JSON object.

local M = {}

function M.data()
  local path = os.getenv("WRK_DATA")
  if path == nil or path == "" then
    return {}
  end
  return dofile(path)
end

-- Threads are numbered from 1 in setup() (the main Lua state), so each can seed its random
-- numbers and take its own share of the tokens.
local counter = 0
function M.setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
  thread:set("thread_count", tonumber(os.getenv("WRK_THREADS") or "1"))
end

-- A Visa-range number with a valid Luhn check digit, different on nearly every call.
function M.card()
  local d = { 4 }
  for i = 2, 15 do
    d[i] = math.random(0, 9)
  end
  local sum = 0
  for i = 15, 1, -1 do
    local v = d[i]
    if (15 - i) % 2 == 0 then
      v = v * 2
      if v > 9 then
        v = v - 9
      end
    end
    sum = sum + v
  end
  d[16] = (10 - sum % 10) % 10
  return table.concat(d)
end

function M.hex(n)
  local parts = {}
  for i = 1, n do
    parts[i] = string.format("%04x", math.random(0, 65535))
  end
  return table.concat(parts)
end

function M.done(summary, latency, requests)
  local out = os.getenv("WRK_OUT")
  local e = summary.errors
  local f = assert(io.open(out, "w"))
  f:write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,'
      .. '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"mean_us":%.1f}',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean
  ))
  f:close()
end

return M

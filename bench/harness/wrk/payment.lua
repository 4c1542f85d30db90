-- POST /v1/payments with a secret key and a fresh Idempotency-Key, charging each token the
-- driver listed in WRK_DATA once (threads take every thread_count-th one). A thread that runs
-- out sends an unknown token, which the bench counts as an error and reports.
package.path = os.getenv("WRK_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local data = common.data()
local tokens = data.tokens or {}
local secret = data.secret_key or "sk_missing"
local i = 0

setup = common.setup

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
  i = (thread_id or 1) - (thread_count or 1)
end

function request()
  i = i + (thread_count or 1)
  local token = tokens[i] or "tok_ran_out"
  local body = string.format('{"amount":1000,"currency":"eur","token":"%s"}', token)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. secret,
    ["Idempotency-Key"] = common.hex(8),
  }
  return wrk.format("POST", "/v1/payments", headers, body)
end

done = common.done

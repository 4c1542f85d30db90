-- POST /v1/tokens as the hosted fields send it: a fresh Luhn-valid card and CVC on every
-- request, the publishable keys taken in turn (WRK_DATA lists them).
package.path = os.getenv("WRK_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local keys = common.data().publishable_keys or { "pk_missing" }
local n = 0

setup = common.setup

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
  n = thread_id or 0
end

function request()
  n = n + 1
  local body = string.format(
    '{"card":{"number":"%s","exp_month":12,"exp_year":2030,"cvc":"%03d"}}',
    common.card(), math.random(0, 999)
  )
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. keys[(n % #keys) + 1],
    ["Origin"] = "https://shop.example",
  }
  return wrk.format("POST", "/v1/tokens", headers, body)
end

done = common.done

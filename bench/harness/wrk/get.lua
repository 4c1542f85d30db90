-- GET of WRK_PATH (cardshield's /healthz, or the bare app's).
package.path = os.getenv("WRK_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")

wrk.method = "GET"
wrk.path = os.getenv("WRK_PATH") or "/healthz"
done = common.done

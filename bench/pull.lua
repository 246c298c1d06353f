-- POST /v1/requests: Emma's contact person asks social services whether a measure is active
-- (a permit; the gateway fetches from the simulated source, redacts and audits).
-- Env: BENCH_DIR, TOKEN (jonas.kp's), SUBJECT (Emma's CPR).
package.path = os.getenv("BENCH_DIR") .. "/?.lua;" .. package.path
local report = require("report")
done = report.done

local body = '{"subject":"' .. os.getenv("SUBJECT") .. '","category":"social.measures",' ..
  '"purpose":"kui.contact_person","source":"social-services"}'
local req = wrk.format("POST", "/v1/requests", {
  ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
  ["Content-Type"] = "application/json",
}, body)

function request()
  return req
end

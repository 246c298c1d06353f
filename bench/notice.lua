-- POST /v1/notices: Emma's 18 % absence notice from Nordskolen, a fresh Idempotency-Key per request.
-- Env: BENCH_DIR, TOKEN (Nordskolen's), SUBJECT (Emma's CPR), RUN (unique per run).
package.path = os.getenv("BENCH_DIR") .. "/?.lua;" .. package.path
local report = require("report")
done = report.done

local counter = 0
local threads = 0
local prefix = os.getenv("RUN") or tostring(os.time())
local body = '{"kind":"absence","subject":"' .. os.getenv("SUBJECT") .. '","data":' ..
  '{"period":{"from":"2026-08-10","to":"2026-10-31"},"unlawful_absence_pct":18,' ..
  '"absence_band":">=15","parent_contacts":3,' ..
  '"actions_taken":"Ringet til mor på 22 33 44 55","absence_reasons":"migræne"}}'
local headers = {
  ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
  ["Content-Type"] = "application/json",
}

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function request()
  counter = counter + 1
  headers["Idempotency-Key"] = prefix .. "-" .. tostring(tid) .. "-" .. counter
  return wrk.format("POST", "/v1/notices", headers, body)
end

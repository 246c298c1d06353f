-- GET / on the bare endpoint.
package.path = os.getenv("BENCH_DIR") .. "/?.lua;" .. package.path
local report = require("report")
done = report.done

-- One event per POST /events (the "many small writers" case), with the bearer token the
-- production configuration requires (BENCH_TOKEN; the Go original ignores the header).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
wrk.body = '{"source":"bench","action":"click","attributes":{"user":42,"path":"/checkout","ok":true}}'

-- BATCH_SIZE events per POST /events (bulk ingest), with the bearer token (BENCH_TOKEN).
local size = tonumber(os.getenv("BATCH_SIZE") or "100")
local events = {}
for i = 1, size do
  events[i] = '{"source":"bench-' .. (i % 16) .. '","action":"import","attributes":{"row":' .. i .. ',"ok":true}}'
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
wrk.body = "[" .. table.concat(events, ",") .. "]"

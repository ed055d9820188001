-- BATCH_SIZE events per POST /events (bulk ingest). BATCH_SIZE comes from the environment.
local size = tonumber(os.getenv("BATCH_SIZE") or "1000")
local events = {}
for i = 1, size do
  events[i] = '{"source":"bench-' .. (i % 16) .. '","action":"import","attributes":{"row":' .. i .. ',"ok":true}}'
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = "[" .. table.concat(events, ",") .. "]"

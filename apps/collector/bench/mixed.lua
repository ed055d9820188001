-- A mix of writes and the reads dashboards make: recent page, filters, time window, deep page.
-- Writes carry the bearer token (BENCH_TOKEN); reads need none.
local token = os.getenv("BENCH_TOKEN")
local paths = {
  {"POST", "/events", '{"source":"mixed","action":"view","attributes":{"n":1}}'},
  {"GET", "/events?limit=100", nil},
  {"GET", "/events?source=bulk-7&limit=100", nil},
  {"GET", "/events?action=action-3&limit=50", nil},
  {"GET", "/events?since=2020-01-01T00:00:00Z&limit=1000", nil},
}
local index = 0
request = function()
  index = index % #paths + 1
  local p = paths[index]
  local headers = nil
  if p[3] then
    headers = {["Content-Type"] = "application/json"}
    if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  end
  return wrk.format(p[1], p[2], headers, p[3])
end

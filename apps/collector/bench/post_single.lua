-- One event per POST /events (the "many small writers" case).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"source":"bench","action":"click","attributes":{"user":42,"path":"/checkout","ok":true}}'

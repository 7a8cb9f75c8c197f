-- GET /parlor/v1/conversations?limit=20 (the URL given to wrk) as one user, with that user's own
-- bearer token from $BENCH_TOKEN.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN unset")
wrk.headers["Accept"] = "application/json"

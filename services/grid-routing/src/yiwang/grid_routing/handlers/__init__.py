"""grid-routing's use cases, one module per group:

- `routing`: route the cases received, route a returned case again (Kafka);
- `grid_sets`: import a grid set, load and follow the active one (CLI, background job);
- `queries`: the HTTP read side (grid set versions, a point lookup, a case's history).
- `rosters`: import a roster of grid workers, bootstrap the synthetic one, their load;
- `grid_tasks`: grid tasks (小事不出网格): assign, list, acknowledge, settle, pass up;
- `passing_up`: a task leaving the grid: by hand, at its grid deadline, or reopened;
- `notices`: a publicist's (宣传员) notices to residents, recorded on the case;
- `assists`: assisting tasks (协管员) the township or a department asks for.
"""

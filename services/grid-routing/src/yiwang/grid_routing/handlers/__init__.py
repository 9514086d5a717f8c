"""grid-routing's use cases, one module per group:

- `routing`: route the cases received, route a returned case again (Kafka);
- `grid_sets`: import a grid set, load and follow the active one (CLI, background job);
- `queries`: the HTTP read side (grid set versions, a point lookup, a case's history).
"""

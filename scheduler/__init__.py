"""Pure planning library on OR-Tools CP-SAT (DESIGN.md 2): imports only ortools and the standard library."""

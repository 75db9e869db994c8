"""Questions answered from a Graph: shapes, constant values, layers, diff, and the reports
(ls rows, info, op details) the command line prints."""

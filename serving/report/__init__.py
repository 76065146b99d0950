"""The regional ecosystem report (issue 11, section 5): figures, standalone HTML, routes."""

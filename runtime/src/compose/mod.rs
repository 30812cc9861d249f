//! The compose file model and `tug compose`. Not built yet: see the compose issue.

//! The distribution API client: auth, pull and push. Not built yet: see the registry issue.

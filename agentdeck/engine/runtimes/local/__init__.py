"""The local runtime: a bubblewrap sandbox per attempt under a detached supervisor."""

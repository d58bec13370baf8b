"""The driver: lease, scheduler, attempt runner, controls, reviews, submission and setup phase."""

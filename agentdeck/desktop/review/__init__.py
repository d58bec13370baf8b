"""The Review tab (`review_page`) and the diff panel it shows (`diff`)."""

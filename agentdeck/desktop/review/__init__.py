"""The Review tab (`review_page`): the review inbox (`inbox`) and the diff panel it shows (`diff`)."""

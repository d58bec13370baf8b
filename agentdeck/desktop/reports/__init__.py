"""The Reports tab: how a batch (or last night) went, as a table and charts of cost and duration per task"""

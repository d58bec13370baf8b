"""`agentdeck doctor`: is this machine ready to run the user's agents, and if not, what to do.

Each module checks one group and returns `Check` results; `needs` decides which problems
fail (something a profile the user uses needs) and which only warn.
"""

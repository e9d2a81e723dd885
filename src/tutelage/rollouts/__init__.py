"""One rollout stack: episode plans and seeds, policies, one episode, generation, failure search.

Generation, evaluation, DAgger, failure search and plugin stages all play
episodes through :func:`tutelage.rollouts.rollout.run_episode`, with plans from
:class:`tutelage.rollouts.plan.EpisodePlanner`: an episode's seeds and scenario
depend only on the run seed, the split and its index, so it is the same in
whichever worker, process or Ray task plays it.
"""

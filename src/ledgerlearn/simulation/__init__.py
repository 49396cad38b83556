"""Agent-based simulations on the real contracts, in virtual time.

    from ledgerlearn.simulation import Scenario, run, save_plots
    rec = run(Scenario(dataset="imdb", model="perceptron", incentive="drt"))
    rec.save("run.json"); save_plots(rec, "run")     # run.png, run.html

The default scenario is the reference's IMDB headline (see
:func:`~ledgerlearn.simulation.agents.reference_agents`).
"""

from ledgerlearn.simulation.agents import AgentSpec, honest_agent, mixed_agents, preset, reference_agents
from ledgerlearn.simulation.features import Features, features, initial_model
from ledgerlearn.simulation.plots import save_html, save_plots, save_png
from ledgerlearn.simulation.record import AgentSummary, SimulationRecord
from ledgerlearn.simulation.runner import Simulation, run
from ledgerlearn.simulation.scenario import Scenario
from ledgerlearn.simulation.single_pass import SinglePassResult, single_pass

__all__ = [
    "AgentSpec", "AgentSummary", "Features", "Scenario", "Simulation", "SimulationRecord", "SinglePassResult",
    "features", "honest_agent", "initial_model", "mixed_agents", "preset", "reference_agents", "run", "save_html",
    "save_plots", "save_png", "single_pass",
]

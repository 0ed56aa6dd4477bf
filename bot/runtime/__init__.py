"""The composition root and the processes: App, the web app, the scheduler and delivery. Imports
core, storage, dispatch and handlers; never a channel."""

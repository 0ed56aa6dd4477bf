"""What features run inside: the route table type, the dispatcher (one error boundary) and the
handler context. Imports core and storage only."""

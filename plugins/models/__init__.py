"""Built-in model builders (config group ``model``): framework-free layer specs."""

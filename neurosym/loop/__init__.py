"""The feedback loop: translate, check with the provers, feed the verdict back, try again."""

__all__: list[str] = []

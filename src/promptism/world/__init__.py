"""The Scene World: the built-in image–caption world (``shared/specs/scene-world.md``).

Quick tour::

    from promptism import world
    c = world.parse("two yellow stars and a blue box on a gray background")
    scene = world.layout(c, np.random.default_rng(0))
    img = world.render(scene, 64)
    world.judge(img, "two yellow stars and a blue box").correct   # True
"""

from .captions import ParseError, describe, parse
from .constraints import Constraints, ObjectSpec, Relation, Verdict, check, layout
from .judge import JudgeError, Judgement, Reading, judge, read
from .render import render, render_array
from .scene import Obj, Scene, SceneError

__all__ = [
    "Constraints",
    "JudgeError",
    "Judgement",
    "Obj",
    "ObjectSpec",
    "ParseError",
    "Reading",
    "Relation",
    "Scene",
    "SceneError",
    "Verdict",
    "check",
    "describe",
    "judge",
    "layout",
    "parse",
    "read",
    "render",
    "render_array",
]

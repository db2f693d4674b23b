"""Names for runs: random adjective-noun pairs for flow runs, stable keys for tasks."""

from __future__ import annotations

import zlib

ADJECTIVES = (
    "amber ancient azure bold brave bright brisk calm candid cheerful clever cobalt cosmic crimson "
    "curious dapper daring discreet dusky eager earnest elegant emerald fearless fiery gentle "
    "gifted gleaming golden graceful hardy hazel honest humble icy indigo jolly jovial keen "
    "kind lively loyal lucid lunar magnetic mellow merry mighty misty modest nimble noble "
    "olivine opal patient peaceful placid plucky polite proud quick quiet radiant rapid ruby "
    "rustic sage scarlet serene sharp shiny silent silver sincere smart snowy solar spirited "
    "spry steady stellar stoic sunny swift tactful tidy topaz tranquil true upbeat valiant "
    "vivid warm wise witty zealous"
).split()

NOUNS = (
    "albatross antelope badger beaver bison bobcat caracal cheetah cobra condor cougar coyote "
    "crane dingo dolphin eagle egret falcon ferret finch fox gazelle gecko gibbon heron hornet "
    "husky ibex iguana impala jackal jaguar kestrel kingfisher koala lemur leopard lion lynx "
    "macaw magpie mamba marmot marten meerkat mink mongoose moose narwhal newt ocelot okapi "
    "oriole osprey otter owl panda panther parrot peacock pelican penguin petrel puffin puma "
    "quail quokka raccoon raven robin salamander seal shark skunk sparrow squid starling stork "
    "swan tapir tern tiger toucan turtle viper vulture walrus weasel wolf wombat wren yak zebra"
).split()


def flow_run_name() -> str:
    """A random, readable name such as `olivine-swan`."""
    import random

    return f"{random.choice(ADJECTIVES)}-{random.choice(NOUNS)}"


def task_key(module: str, qualname: str) -> str:
    """Eight hex digits that stay the same for a task across runs and processes."""
    return f"{zlib.crc32(f'{module}.{qualname}'.encode()):08x}"

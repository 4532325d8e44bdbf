"""Action class names of the supported datasets, indexed by 0-based label.

* NTU RGB+D 120: the official list A001..A120 from the dataset's README (shahroudy/NTURGB-D,
  "Action Classes"); NTU RGB+D (60) is its first 60 entries.
* MSRAction3D: a01..a20 as listed with the data (Li, Zhang, Liu, CVPR-W 2010).
* Florence3D: idcategory 1..9 in the order of the dataset README.
* Kinetics-400: read from ``label_name.txt`` (line i = label i) with :func:`read_label_names`.
"""

from __future__ import annotations

import os

NTU120_CLASSES: tuple[str, ...] = (
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup", "throw",
    "sitting down", "standing up (from sitting position)", "clapping", "reading", "writing",
    "tear up paper", "wear jacket", "take off jacket", "wear a shoe", "take off a shoe",
    "wear on glasses", "take off glasses", "put on a hat/cap", "take off a hat/cap", "cheer up",
    "hand waving", "kicking something", "put something inside pocket / take out something from pocket",
    "hopping (one foot jumping)", "jump up", "make a phone call/answer phone",
    "playing with phone/tablet", "typing on a keyboard", "pointing to something with finger",
    "taking a selfie", "check time (from watch)", "rub two hands together", "nod head/bow",
    "shake head", "wipe face", "salute", "put the palms together", "cross hands in front (say stop)",
    "sneeze/cough", "staggering", "falling", "touch head (headache)",
    "touch chest (stomachache/heart pain)", "touch back (backache)", "touch neck (neckache)",
    "nausea or vomiting condition", "use a fan (with hand or paper)/feeling warm",
    "punching/slapping other person", "kicking other person", "pushing other person",
    "pat on back of other person", "point finger at the other person", "hugging other person",
    "giving something to other person", "touch other person's pocket", "handshaking",
    "walking towards each other", "walking apart from each other",
    # A061-A120: NTU RGB+D 120 only
    "put on headphone", "take off headphone", "shoot at the basket", "bounce ball",
    "tennis bat swing", "juggling table tennis balls", "hush (quite)", "flick hair", "thumb up",
    "thumb down", "make ok sign", "make victory sign", "staple book", "counting money",
    "cutting nails", "cutting paper (using scissors)", "snapping fingers", "open bottle",
    "sniff (smell)", "squat down", "toss a coin", "fold paper", "ball up paper", "play magic cube",
    "apply cream on face", "apply cream on hand back", "put on bag", "take off bag",
    "put something into a bag", "take something out of a bag", "open a box", "move heavy objects",
    "shake fist", "throw up cap/hat", "hands up (both hands)", "cross arms", "arm circles",
    "arm swings", "running on the spot", "butt kicks (kick backward)", "cross toe touch",
    "side kick", "yawn", "stretch oneself", "blow nose", "hit other person with something",
    "wield knife towards other person", "knock over other person (hit with body)",
    "grab other person's stuff", "shoot at other person with a gun", "step on foot", "high-five",
    "cheers and drink", "carry something with other person", "take a photo of other person",
    "follow other person", "whisper in other person's ear", "exchange things with other person",
    "support somebody with one's hand (someone is sick, help him to walk)",
    "finger-guessing game (playing rock-paper-scissors)",
)  # fmt: skip

NTU60_CLASSES: tuple[str, ...] = NTU120_CLASSES[:60]

MSR3D_CLASSES: tuple[str, ...] = (
    "high arm wave", "horizontal arm wave", "hammer", "hand catch", "forward punch", "high throw",
    "draw x", "draw tick", "draw circle", "hand clap", "two hand wave", "side-boxing", "bend",
    "forward kick", "side kick", "jogging", "tennis swing", "tennis serve", "golf swing",
    "pick up & throw",
)  # fmt: skip

FLORENCE3D_CLASSES: tuple[str, ...] = (
    "wave", "drink from a bottle", "answer phone", "clap", "tight lace", "sit down", "stand up",
    "read watch", "bow",
)  # fmt: skip

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "ntu60": NTU60_CLASSES,
    "ntu120": NTU120_CLASSES,
    "msr3d": MSR3D_CLASSES,
    "florence3d": FLORENCE3D_CLASSES,
}


def read_label_names(path: str | os.PathLike[str]) -> list[str]:
    """Class names from a text file with one name per line (line i = label i), e.g. Kinetics'
    ``label_name.txt``. Blank trailing lines are ignored."""
    with open(path, encoding="utf-8") as f:
        names = [line.strip() for line in f]
    while names and not names[-1]:
        names.pop()
    return names

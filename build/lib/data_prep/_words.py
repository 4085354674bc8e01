"""Vocabulary of the built-in corpus: neutral filler words plus a few emotional cue words per class.

Most words carry no emotion; a transcript points to an emotion through the cue words it holds (or
to none, when it holds only filler words).
"""

_FILLER_TEXT = """
i you we they he she it the a an and but so or if then that this there here what when where why
how who is are was were be been have has had do does did don't can't won't i'm you're it's that's
we're they're just well yeah yes no not know think mean said say says tell told go going went come
came get got make made take took see saw look want need like thing things something anything
nothing some any all about with from for of on in at to up down out over back again now today
tomorrow yesterday time day night week year morning later maybe probably really actually kind sort
way right um uh oh hmm let's gonna wanna one two three first last other another same little
much many more most very too also still even only ever never always people man woman guy car house
home work job office phone call called money paper table door room street town city letter name
number minute hour moment part place point problem question answer idea reason story friend mother
father brother sister kids family dinner lunch coffee water bag box form line ticket passport
airport flight bus train seat window card bank check
"""
FILLER = _FILLER_TEXT.split()

_CUE_TEXT = {
    "neutral": """fine sure alright okay whatever guess suppose usual regular normal standard
        schedule appointment meeting information process procedure paperwork document details
        address identification forms available certainly correct exactly understand""",
    "happy": """great wonderful love amazing awesome fantastic glad happy excited beautiful perfect
        congratulations fun lucky celebrate yay wow brilliant delighted thrilled married proposed
        sweet adore cheers laugh""",
    "angry": """hate stupid ridiculous damn unbelievable idiot furious sick fault liar unfair
        kidding shut mad annoying pathetic rude insane screw hell worst disgusting nonsense
        outrageous seriously lousy""",
    "sad": """sorry miss lost died alone sad cry crying hurt gone lonely funeral terrible leaving
        tired broken grief miserable sorrow empty depressed tears goodbye passed remember""",
}
CUES = {emotion: text.split() for emotion, text in _CUE_TEXT.items()}

NON_SPEECH = ["[LAUGHTER]", "[BREATHING]", "[GARBAGE]"]

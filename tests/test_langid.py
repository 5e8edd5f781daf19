"""Language and script checks (factory.core.langid), on hand-written text and on multilingual ParaDetox."""

from __future__ import annotations

import pytest

from factory.core.langid import LANGUAGES, check_language, has_mixed_word, identify, script_of

SAMPLES = {
    "am": "ይህ በጣም ጥሩ ሀሳብ ነው ብዬ አስባለሁ።",
    "ar": "أعتقد أن هذه فكرة جيدة جدا.",
    "de": "Ich glaube, das ist eine sehr gute Idee.",
    "en": "I think this is a very good idea.",
    "es": "Creo que es una idea muy buena.",
    "hi": "मुझे लगता है कि यह बहुत अच्छा विचार है।",
    "ru": "Я думаю, что это очень хорошая идея.",
    "uk": "Я думаю, що це дуже гарна ідея, їй-богу.",
    "zh": "我觉得这是一个非常好的主意。",
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_language_passes_its_own_check(lang):
    result = check_language(SAMPLES[lang], lang)
    assert result.reason is None, result
    assert result.predicted == lang
    assert result.script_share == 1.0


def test_identification_is_restricted_to_the_nine_languages():
    # Italian is not among the nine: the detector must still answer with one of them.
    assert identify("Penso che questa sia davvero una buona idea.")[0] in LANGUAGES


def test_a_side_in_another_language_of_the_same_script_is_wrong_language():
    result = check_language(SAMPLES["en"], "de")
    assert (result.reason, result.predicted) == ("wrong_language", "en")


def test_a_side_in_another_script_is_wrong_script():
    assert check_language(SAMPLES["ru"], "de").reason == "wrong_script"
    assert check_language(SAMPLES["zh"], "hi").reason == "wrong_script"


def test_mixed_scripts_are_detected():
    mostly_latin = "Я думаю, что это idea is very good and nice"
    assert check_language(mostly_latin, "ru").reason == "wrong_script"
    half = "Это хорошая идея, really good"  # 14 Cyrillic and 10 Latin letters
    assert check_language(half, "ru").reason == "mixed_script"
    assert check_language(half, "ru", min_script_share=0.5).reason is None


def test_homoglyph_words_count_only_when_asked():
    homoglyph = "Это очень хорошая идеa"  # the last letter is a Latin a
    assert has_mixed_word(homoglyph)
    assert check_language(homoglyph, "ru").reason is None
    assert check_language(homoglyph, "ru", mixed_words=True).reason == "mixed_script"
    assert not has_mixed_word("我用QQ聊天")  # Han text has no spaces: never a mixed word


@pytest.mark.parametrize("text", ["", "   ", "!!! 123 :)", "🙂🙂"])
def test_text_without_letters_is_empty(text):
    assert check_language(text, "en").reason == "empty"


def test_unknown_declared_language_is_an_error():
    with pytest.raises(ValueError, match="not one of"):
        check_language("hello", "fr")


def test_scripts_of_single_characters():
    assert [script_of(c) for c in "aЖع अ中ሀ"] == [
        "Latin", "Cyrillic", "Arabic", "Other", "Devanagari", "Han", "Ethiopic"]


@pytest.mark.realdata
def test_language_check_on_multilingual_paradetox(shared_data, capsys):
    """Every file's language is recognised for >= 95% of rows (figures printed per language)."""
    from factory.generate.translate_sources import read_pair_files

    folder = shared_data / "multilingual_paradetox"
    figures = {}
    for lang in LANGUAGES:
        pairs = read_pair_files(folder, lang)
        assert len(pairs) == 300
        for index, side in enumerate(("toxic", "neutral")):
            texts = [pair[index] for pair in pairs]
            identified = sum(identify(t)[0] == lang for t in texts) / len(texts)
            passed = sum(check_language(t, lang).reason is None for t in texts) / len(texts)
            figures[f"{lang}_{side}"] = (identified, passed)
            assert identified >= 0.95, (lang, side, identified)
            assert passed >= 0.95, (lang, side, passed)
    with capsys.disabled():
        print("\nlanguage ID / full language check, share of rows:")
        for name, (identified, passed) in figures.items():
            print(f"  {name:12s} {identified:.3f} {passed:.3f}")

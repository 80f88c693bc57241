import numpy as np
import pytest
from scipy import ndimage

from promptism.world import Obj, Scene, SceneError, render_array, vocab
from promptism.world.render import background_array


def one(shape="square", color="red", size="large", x=0.5, y=0.5, bg="white", style="flat"):
    return Scene((Obj(shape, color, size, x, y),), bg, style)


@pytest.mark.parametrize("style", vocab.STYLES)
def test_same_scene_same_pixels(style):
    objs = (Obj("star", "blue", "medium", 0.3, 0.4), Obj("cross", "green", "small", 0.75, 0.7))
    s = Scene(objs, "black" if style == "neon" else "sky", style)
    a, b = render_array(s, 64), render_array(s, 64)
    assert a.dtype == np.uint8 and a.shape == (64, 64, 3)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("size", [31, 257, 0, -5])
def test_sizes_outside_range_are_refused(size):
    with pytest.raises(SceneError, match="between 32 and 256"):
        render_array(one(), size)


def test_background_colours_are_exact():
    for bg, rgb in vocab.BACKGROUND_RGB.items():
        img = render_array(Scene((), bg, "flat"), 64)
        assert (img == np.array(rgb, np.uint8)).all()
    sky = render_array(Scene((), "sky", "flat"), 64).astype(int)
    assert np.abs(sky[0, 0] - np.array(vocab.SKY_TOP)).max() <= 2
    assert np.abs(sky[-1, 0] - np.array(vocab.SKY_BOTTOM)).max() <= 2
    assert (np.diff(sky[:, 0, 0]) >= 0).all()  # red channel rises from top to bottom


@pytest.mark.parametrize("shape", vocab.SHAPES)
@pytest.mark.parametrize("size", [64, 128])
def test_geometry_centroid_width_and_colour(shape, size):
    o = Obj(shape, "blue", "large", 0.41, 0.57)
    img = render_array(Scene((o,), "white", "flat"), size).astype(float)
    blue = np.array(vocab.COLORS["blue"], float)
    cover = np.clip((255 - img).sum(-1) / (255 - blue).sum(), 0, 1)  # coverage from the mix with white
    ys, xs = np.mgrid[0:size, 0:size]
    cx, cy = (cover * (xs + 0.5)).sum() / cover.sum() / size, (cover * (ys + 0.5)).sum() / cover.sum() / size
    assert abs(cx - o.x) < 0.5 / size and abs(cy - o.y) < 0.5 / size  # (x, y) is the area centroid
    cols = np.nonzero(cover.max(axis=0) > 0.01)[0]
    assert abs((cols[-1] - cols[0] + 1) / size - vocab.SIZES["large"]) <= 2.0 / size  # width == size
    assert np.isclose(img[int(o.y * size), int(o.x * size)], blue).all() or shape == "cross"


def test_star_is_concave_and_triangle_points_up():
    star = render_array(one("star", size="large"), 128)
    white = (star == 255).all(-1)
    # between two points of the star, below the top point's tip, lies background
    assert white[int((0.5 - 0.1) * 128), int((0.5 - 0.12) * 128)]
    tri = render_array(one("triangle", size="large"), 128)
    filled = ~(tri == 255).all(-1)
    rows = np.nonzero(filled.any(axis=1))[0]
    top_width, bottom_width = filled[rows[0] + 2].sum(), filled[rows[-1] - 2].sum()
    assert bottom_width > 5 * top_width


def test_outline_is_hollow_with_spec_stroke():
    img = render_array(one("square", style="outline"), 128)
    filled = ~(img == 255).all(-1)
    assert not filled[64, 64]  # no fill
    row = filled[64]
    left_stroke = np.argmax(~row[np.argmax(row) :]) if row.any() else 0
    assert abs(left_stroke / 128 - vocab.STROKE_WIDTH) <= 1.5 / 128


def test_pixel_art_is_blocky_on_a_32_grid():
    img = render_array(one("circle", style="pixel"), 128)
    blocks = img.reshape(32, 4, 32, 4, 3)
    assert (blocks == blocks[:, :1, :, :1]).all()  # every 4x4 block is one colour
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert colours == {(255, 255, 255), vocab.COLORS["red"]}  # no anti-aliasing


def test_neon_has_black_background_and_halo():
    with pytest.raises(SceneError, match="black"):
        one(bg="white", style="neon")
    img = render_array(one("square", size="medium", bg="black", style="neon"), 128).astype(int)
    assert (img[0, 0] == vocab.BACKGROUND_RGB["black"]).all()
    edge = int((0.5 + vocab.SIZES["medium"] / 2) * 128) + 2  # just outside the square
    assert img[64, edge, 0] > vocab.BACKGROUND_RGB["black"][0] + 20  # the red halo glows there


def test_any_size_renders_the_same_scene():
    s = Scene(
        (Obj("diamond", "purple", "medium", 0.3, 0.3), Obj("star", "yellow", "large", 0.68, 0.66)), "gray", "flat"
    )
    big = render_array(s, 256).astype(float)
    small = render_array(s, 64).astype(float)
    down = big.reshape(64, 4, 64, 4, 3).mean(axis=(1, 3))
    assert np.abs(down - small).mean() < 1.0


def test_validate_catches_overlap_and_leaving_the_canvas():
    with pytest.raises(SceneError, match="closer"):
        Scene((Obj("square", "red", "large", 0.4, 0.4), Obj("circle", "blue", "large", 0.5, 0.5))).validate()
    with pytest.raises(SceneError, match="leaves the canvas"):
        Scene((Obj("square", "red", "large", 0.05, 0.5),)).validate()
    with pytest.raises(SceneError, match="unknown colour"):
        Obj("square", "black", "large", 0.5, 0.5)


def test_objects_of_one_colour_stay_separate_components():
    # four copies 0.05 apart must stay four blobs at 64 px (counting depends on it)
    objs = tuple(Obj("square", "green", "large", 0.25 + 0.43 * (i % 2), 0.25 + 0.43 * (i // 2)) for i in range(4))
    img = render_array(Scene(objs), 64)
    mask = ~(img == 255).all(-1)
    assert ndimage.label(mask)[1] == 4


def test_background_array_rejects_unknown():
    with pytest.raises(SceneError):
        background_array("purple", 8)


def test_block_mean_matches_numpy_and_renders_the_same_bytes():
    from promptism.world.render import SUPERSAMPLE, _box_mean, _draw
    from promptism.world.sampling import sample_example

    big = np.random.default_rng(0).random((64 * SUPERSAMPLE, 64 * SUPERSAMPLE, 3)) * 255
    want = big.reshape(64, SUPERSAMPLE, 64, SUPERSAMPLE, 3).mean(axis=(1, 3))
    assert np.allclose(_box_mean(big, SUPERSAMPLE), want, rtol=0, atol=1e-10)
    for i in range(60):  # every style and background the sampler draws, against numpy's mean
        scene = sample_example(np.random.default_rng([9, i])).scene
        if scene.style == "pixel":
            continue
        drawn = _draw(scene, 64 * SUPERSAMPLE).reshape(64, SUPERSAMPLE, 64, SUPERSAMPLE, 3).mean(axis=(1, 3))
        assert np.array_equal(render_array(scene, 64), np.clip(np.rint(drawn), 0, 255).astype(np.uint8))

"""Regenerates resources/icons/orderhub.png (Linux .desktop) and orderhub.ico (Windows) from the bundled font.

A rounded square in OrderHub blue with 订 (订单) in white, drawn with resources/fonts so it needs no
system font. Run with OrderHub's own virtualenv: .venv/bin/python installer/make_icon.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
FONT = REPO / "resources" / "fonts" / "OrderHubSans-Regular.otf"
OUT = REPO / "resources" / "icons"
SIZE = 256


def draw(size: int = SIZE) -> Image.Image:
    """The icon at ``size`` pixels, drawn large and scaled down so small sizes stay smooth."""
    big = size * 4
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=(22, 93, 255, 255))
    font = ImageFont.truetype(str(FONT), int(big * 0.68))
    pen.text((big / 2, big / 2), "订", font=font, fill="white", anchor="mm")
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    icon = draw()
    icon.save(OUT / "orderhub.png")
    icon.save(OUT / "orderhub.ico", sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    print(f"wrote {OUT / 'orderhub.png'} and {OUT / 'orderhub.ico'}")


if __name__ == "__main__":
    main()

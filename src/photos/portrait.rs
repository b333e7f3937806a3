//! Illustrated portraits for the demo seed: a friendly head and shoulders drawn by code, so a
//! seeded community has faces without a single downloaded image. Every choice (background,
//! skin tone, hair style and colour, shirt, glasses, beard, expression) comes from the key
//! through a small mixing hash, so the same key always gives the same pixels.
//!
//! Shapes are filled row by row over their own spans: pixels well inside are painted at once,
//! and only the pixel or two at each edge measure their distance to the outline, for soft
//! edges. A portrait costs a few milliseconds even in a debug build.

use image::RgbImage;

/// A portrait's side in pixels: the large photo size, so encoding only has to shrink it once.
const SIDE: u32 = super::model::Size::Large.pixels();

/// One step of splitmix64 (add its constant, then mix): a cheap hash whose every output bit
/// depends on every input bit. Portraits draw their choices from it, one step after another;
/// the seed uses it to choose, by member index, who has a photo.
pub fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Draws the portrait of `key`: 384 x 384 pixels, the same for the same key.
pub fn draw(key: u64) -> RgbImage {
    let look = Look::of(key);
    let mut canvas = Canvas::new(look.background);
    look.paint(&mut canvas);
    canvas.into_image()
}

type Colour = [f32; 3];

/// A stream of choices from one key.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }

    /// A whole number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number in `low..high`.
    fn between(&mut self, low: f32, high: f32) -> f32 {
        let unit = (self.next() >> 40) as f32 / (1u64 << 24) as f32;
        low + (high - low) * unit
    }

    /// True about one time in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One of `colours`, nudged a little so that two people of one palette entry differ.
    fn colour(&mut self, colours: &[[u8; 3]]) -> Colour {
        let [r, g, b] = colours[self.below(colours.len())];
        let nudge = self.between(-8.0, 8.0);
        [f32::from(r) + nudge, f32::from(g) + nudge, f32::from(b) + nudge]
    }
}

const BACKGROUNDS: [[u8; 3]; 10] = [
    [250, 218, 212],
    [210, 230, 247],
    [212, 242, 224],
    [251, 240, 200],
    [230, 216, 240],
    [205, 238, 233],
    [252, 229, 205],
    [222, 228, 240],
    [240, 224, 196],
    [244, 214, 232],
];
/// From light to deep, so every community looks like a real one.
const SKIN: [[u8; 3]; 9] = [
    [255, 226, 200],
    [247, 210, 174],
    [236, 192, 152],
    [226, 174, 132],
    [200, 142, 102],
    [172, 114, 78],
    [142, 88, 56],
    [112, 68, 44],
    [86, 54, 36],
];
/// Natural hair colours, the darker ones more often.
const HAIR: [[u8; 3]; 11] = [
    [34, 28, 28],
    [34, 28, 28],
    [66, 42, 30],
    [66, 42, 30],
    [104, 66, 40],
    [138, 80, 44],
    [166, 76, 40],
    [214, 174, 106],
    [234, 204, 146],
    [160, 160, 164],
    [214, 214, 210],
];
/// Now and then someone has dyed theirs.
const DYED_HAIR: [[u8; 3]; 3] = [[48, 136, 150], [214, 96, 146], [116, 80, 160]];
/// Brows under dyed hair.
const DARK_BROWN: Colour = [66.0, 42.0, 30.0];
const SHIRTS: [[u8; 3]; 12] = [
    [62, 100, 176],
    [222, 96, 72],
    [48, 138, 90],
    [236, 172, 60],
    [136, 70, 170],
    [36, 160, 150],
    [210, 70, 112],
    [84, 86, 98],
    [240, 240, 236],
    [116, 140, 154],
    [190, 112, 56],
    [32, 58, 108],
];
const FRAMES: [[u8; 3]; 4] = [[40, 40, 48], [40, 40, 48], [120, 70, 40], [170, 48, 56]];
const EYES: Colour = [44.0, 34.0, 34.0];
const LIPS: Colour = [150.0, 56.0, 66.0];
const WHITE: Colour = [250.0, 250.0, 250.0];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hair {
    Short,
    Long,
    Bun,
    Curls,
    Buzz,
    Bald,
    Quiff,
    Bob,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Neckline {
    Crew,
    Vee,
    Jacket,
}

/// Everything drawn, chosen from the key. Lengths are in design units: pixels before the
/// canvas's zoom.
struct Look {
    background: Colour,
    halo: bool,
    skin: Colour,
    hair: Hair,
    hair_colour: Colour,
    dyed: bool,
    shirt: Colour,
    inner_shirt: Colour,
    neckline: Neckline,
    /// The head's centre height and half-width; its half-height is `long_face` times that.
    head_y: f32,
    head_rx: f32,
    long_face: f32,
    eye_gap: f32,
    eye_size: f32,
    /// Happy closed eyes instead of open ones.
    closed_eyes: bool,
    brow_tilt: f32,
    /// Which way the hair parts or sweeps: -1 or 1.
    side: f32,
    open_smile: bool,
    smile_width: f32,
    glasses: Option<Colour>,
    beard: bool,
    shoulders: f32,
}

impl Look {
    fn of(key: u64) -> Look {
        let mut dice = Dice(key);
        let hair = [Hair::Short, Hair::Long, Hair::Bun, Hair::Curls, Hair::Buzz, Hair::Bald, Hair::Quiff, Hair::Bob]
            [dice.below(8)];
        let skin = dice.colour(&SKIN);
        let dyed = dice.one_in(12);
        // Hair close to the skin's lightness hides the face's outline: drawn again (a few
        // times at most), black at the last.
        let mut hair_colour = HAIR[0].map(f32::from);
        for _ in 0..6 {
            let colour = dice.colour(if dyed { &DYED_HAIR } else { &HAIR });
            if (luminance(colour) - luminance(skin)).abs() >= 30.0 {
                hair_colour = colour;
                break;
            }
        }
        let shirt = dice.colour(&SHIRTS);
        let inner_shirt = if dice.one_in(2) { [238.0, 238.0, 232.0] } else { dice.colour(&SHIRTS) };
        Look {
            background: dice.colour(&BACKGROUNDS),
            halo: dice.one_in(2),
            skin,
            hair,
            hair_colour,
            dyed,
            shirt,
            inner_shirt,
            neckline: [Neckline::Crew, Neckline::Vee, Neckline::Jacket][dice.below(3)],
            head_y: dice.between(170.0, 182.0),
            head_rx: dice.between(66.0, 78.0),
            long_face: dice.between(1.14, 1.28),
            eye_gap: dice.between(0.36, 0.44),
            eye_size: dice.between(7.0, 9.5),
            closed_eyes: dice.one_in(6),
            brow_tilt: dice.between(-3.0, 3.0),
            side: if dice.one_in(2) { -1.0 } else { 1.0 },
            open_smile: dice.one_in(3),
            smile_width: dice.between(16.0, 24.0),
            glasses: if dice.one_in(5) { Some(dice.colour(&FRAMES)) } else { None },
            // A dyed beard looks like a costume.
            beard: dice.one_in(5) && !dyed,
            shoulders: dice.between(150.0, 178.0),
        }
    }

    /// Back to front: background, hair behind the head, neck, body, ears, head, face, hair
    /// over the forehead, glasses.
    fn paint(&self, canvas: &mut Canvas) {
        let cx = DESIGN_CENTRE;
        let (head_y, rx) = (self.head_y, self.head_rx);
        let ry = rx * self.long_face;
        let head = Shape::Ellipse { cx, cy: head_y, rx, ry };
        let shade = scale(self.skin, 0.86);

        if self.halo {
            let halo = Shape::Ellipse { cx, cy: head_y + 30.0, rx: 150.0, ry: 150.0 };
            canvas.fill(tint(self.background, 0.45), 1.0, halo);
        }
        self.paint_back_hair(canvas, head);

        // Body: a wide ellipse rising from below the frame; the neck under its neckline.
        let body_top = head_y + ry + 34.0;
        let neck_half = rx * 0.42;
        let neck =
            Shape::RoundRect { x0: cx - neck_half, y0: head_y, x1: cx + neck_half, y1: body_top + 30.0, r: 12.0 };
        canvas.fill(shade, 1.0, neck);
        let body = Shape::Ellipse { cx, cy: body_top + 190.0, rx: self.shoulders, ry: 190.0 };
        canvas.fill(self.shirt, 1.0, body);
        // An opening of the body from its top down to a point, `width` either side at the top.
        let vee = |canvas: &mut Canvas, colour: Colour, depth: f32, width: f32| {
            let (top, apex) = (body_top - 20.0, (cx, body_top + depth));
            canvas.fill_where(colour, 1.0, body, (cx - width, top, cx + width, apex.1), |x, y| {
                side_of((x, y), (cx - width, top), apex).max(side_of((x, y), apex, (cx + width, top)))
            });
        };
        let crew = |canvas: &mut Canvas| {
            let hole = Shape::Ellipse { cx, cy: body_top, rx: neck_half + 6.0, ry: 14.0 };
            canvas.fill_where(shade, 1.0, hole, hole.bounds(), |x, y| body.distance(x, y));
        };
        match self.neckline {
            Neckline::Crew => crew(canvas),
            Neckline::Vee => vee(canvas, shade, 48.0, neck_half + 4.0),
            Neckline::Jacket => {
                vee(canvas, self.inner_shirt, 140.0, neck_half + 30.0);
                crew(canvas);
            }
        }

        for ear_x in [cx - rx * 0.97, cx + rx * 0.97] {
            canvas.fill(self.skin, 1.0, Shape::Ellipse { cx: ear_x, cy: head_y + 10.0, rx: 15.0, ry: 18.0 });
        }
        canvas.fill(self.skin, 1.0, head);
        self.paint_face(canvas, head);
        self.paint_top_hair(canvas, head);
        if let Some(frame) = self.glasses {
            let eye_y = head_y + ry * 0.08;
            let dx = rx * self.eye_gap;
            let lens = 20.0;
            for sign in [-1.0, 1.0] {
                let ring = Shape::Ellipse { cx: cx + sign * dx, cy: eye_y, rx: lens, ry: lens };
                canvas.outline(frame, ring, 2.5, ring.bounds());
                let (ax, bx) = (cx + sign * (dx + lens), cx + sign * rx);
                canvas.fill(frame, 1.0, Shape::Capsule { ax, ay: eye_y, bx, by: eye_y - 3.0, r: 2.0 });
            }
            canvas.fill(
                frame,
                1.0,
                Shape::Capsule { ax: cx - dx + lens, ay: eye_y, bx: cx + dx - lens, by: eye_y, r: 2.2 },
            );
        }
    }

    fn paint_face(&self, canvas: &mut Canvas, head: Shape) {
        let Shape::Ellipse { cx, cy: head_y, rx, ry } = head else { return };
        let eye_y = head_y + ry * 0.08;
        let dx = rx * self.eye_gap;
        let mouth_y = head_y + ry * 0.5;
        let brow = if self.dyed {
            DARK_BROWN
        } else if matches!(self.hair, Hair::Bald | Hair::Buzz) || luminance(self.hair_colour) > 150.0 {
            scale(self.hair_colour, 0.75)
        } else {
            self.hair_colour
        };

        // Cheeks, faint, under everything else.
        for sign in [-1.0, 1.0] {
            let cheek = Shape::Ellipse { cx: cx + sign * rx * 0.58, cy: mouth_y - 14.0, rx: 14.0, ry: 11.0 };
            canvas.fill([236.0, 112.0, 112.0], 0.22, cheek);
        }
        canvas.fill(scale(self.skin, 0.8), 0.7, Shape::Ellipse { cx, cy: head_y + ry * 0.3, rx: 7.0, ry: 5.5 });

        let width = self.smile_width;
        if self.beard {
            // The lower face from below the nose, a little past the jaw, around the mouth.
            let chin = Shape::Ellipse { cx, cy: head_y, rx: rx + 4.0, ry: ry + 7.0 };
            let gap = Shape::Ellipse { cx, cy: mouth_y + 3.0, rx: width + 6.0, ry: 11.0 };
            let from = head_y + ry * 0.38;
            let (x0, _, x1, y1) = chin.bounds();
            canvas.fill_where(self.hair_colour, 1.0, chin, (x0, from, x1, y1), |x, y| {
                (from - y).max(-gap.distance(x, y))
            });
        }

        if self.open_smile {
            let top = mouth_y - 2.0;
            let mouth = Shape::Ellipse { cx, cy: top, rx: width, ry: width * 0.7 };
            let (x0, _, x1, y1) = mouth.bounds();
            canvas.fill_where(LIPS, 1.0, mouth, (x0, top, x1, y1), |_, y| top - y);
            let teeth =
                Shape::RoundRect { x0: cx - width * 0.7, y0: top - 2.0, x1: cx + width * 0.7, y1: top + 5.0, r: 2.0 };
            canvas.fill_where(WHITE, 1.0, teeth, teeth.bounds(), |x, y| mouth.distance(x, y).max(top - y));
        } else {
            let curve = Shape::Ellipse { cx, cy: mouth_y - width * 0.9, rx: width, ry: width * 1.1 };
            let (x0, _, x1, y1) = curve.grown(2.8).bounds();
            canvas.outline(LIPS, curve, 2.8, (x0, mouth_y - width * 0.4, x1, y1));
        }

        for sign in [-1.0, 1.0] {
            let ex = cx + sign * dx;
            if self.closed_eyes {
                let lid = Shape::Ellipse { cx: ex, cy: eye_y + 3.0, rx: 9.0, ry: 8.0 };
                let (x0, y0, x1, _) = lid.grown(2.6).bounds();
                canvas.outline(EYES, lid, 2.6, (x0, y0, x1, eye_y + 1.0));
            } else {
                let size = self.eye_size;
                canvas.fill(EYES, 1.0, Shape::Ellipse { cx: ex, cy: eye_y, rx: size, ry: size * 1.1 });
                let glint = Shape::Ellipse { cx: ex + size * 0.35, cy: eye_y - size * 0.4, rx: 2.6, ry: 2.6 };
                canvas.fill(WHITE, 0.9, glint);
            }
            // Mirrored, so both brows tilt the same way as seen from the middle.
            let brow_y = eye_y - 24.0;
            let (ax, bx) = (ex - sign * 12.0, ex + sign * 12.0);
            let stroke = Shape::Capsule { ax, ay: brow_y + self.brow_tilt, bx, by: brow_y - self.brow_tilt, r: 3.6 };
            canvas.fill(brow, 1.0, stroke);
        }
    }

    /// Hair that hangs behind the head and neck.
    fn paint_back_hair(&self, canvas: &mut Canvas, head: Shape) {
        let Shape::Ellipse { cx, cy, rx, ry } = head else { return };
        let colour = self.hair_colour;
        match self.hair {
            Hair::Long => {
                let (x0, y0, x1, y1) = (cx - rx - 16.0, cy - ry - 6.0, cx + rx + 16.0, cy + ry + 70.0);
                canvas.fill(colour, 1.0, Shape::RoundRect { x0, y0, x1, y1, r: rx });
            }
            Hair::Bob => {
                let (x0, y0, x1, y1) = (cx - rx - 14.0, cy - ry - 6.0, cx + rx + 14.0, cy + ry * 0.62);
                canvas.fill(colour, 1.0, Shape::RoundRect { x0, y0, x1, y1, r: 36.0 });
            }
            Hair::Bun => canvas.fill(colour, 1.0, Shape::Ellipse { cx, cy: cy - ry - 4.0, rx: 30.0, ry: 26.0 }),
            Hair::Curls => {
                // A cloud: a big round mass with curls around its rim.
                let (mass_y, mass_rx, mass_ry) = (cy - 14.0, rx + 26.0, ry + 8.0);
                canvas.fill(colour, 1.0, Shape::Ellipse { cx, cy: mass_y, rx: mass_rx, ry: mass_ry });
                for step in 0..=14 {
                    let angle = std::f32::consts::PI * (0.9 + step as f32 * 1.2 / 14.0);
                    let (x, y) = (cx + mass_rx * angle.cos(), mass_y + mass_ry * angle.sin());
                    canvas.fill(colour, 1.0, Shape::Ellipse { cx: x, cy: y, rx: 20.0, ry: 20.0 });
                }
            }
            Hair::Short | Hair::Buzz | Hair::Bald | Hair::Quiff => {}
        }
    }

    /// Hair over the top of the head: the head's own outline, a little larger, less the face
    /// (an ellipse whose top edge is the hairline), down to the ears.
    fn paint_top_hair(&self, canvas: &mut Canvas, head: Shape) {
        let Shape::Ellipse { cx, cy, rx, ry } = head else { return };
        let colour = self.hair_colour;
        // How far the hair stands off the head, how far down the forehead it comes (0 at the
        // middle of the head, 1 at its top), how far down the sides, and how thick it is.
        let (grow, hairline, sideburns, opacity) = match self.hair {
            Hair::Buzz => (2.0, 0.74, 0.0, 0.55),
            Hair::Bob => (8.0, 0.5, 0.3, 1.0),
            Hair::Long => (8.0, 0.66, 0.3, 1.0),
            Hair::Curls => (8.0, 0.62, 0.1, 1.0),
            Hair::Short | Hair::Bun | Hair::Bald | Hair::Quiff => (7.0, 0.7, 0.05, 1.0),
        };
        let cap = Shape::Ellipse { cx, cy: cy - grow / 2.0, rx: rx + grow, ry: ry + grow };
        // Shifted sideways, the face's top edge parts the hair to one side.
        let face_ry = ry * 0.95;
        let face = Shape::Ellipse {
            cx: cx + self.side * rx * 0.12,
            cy: cy - ry * hairline + face_ry,
            rx: rx * 0.98,
            ry: face_ry,
        };
        let lowest = cy + ry * sideburns;
        let (x0, y0, x1, _) = cap.bounds();
        // Bald: the crown is bare, leaving the hair over the ears.
        let crown =
            (self.hair == Hair::Bald).then_some(Shape::Ellipse { cx, cy: cy - ry * 0.5, rx: rx * 0.8, ry: ry * 0.9 });
        canvas.fill_where(colour, opacity, cap, (x0, y0, x1, lowest), |x, y| {
            let hair = (-face.distance(x, y)).max(y - lowest);
            crown.map_or(hair, |crown| hair.max(-crown.distance(x, y)))
        });
        if self.hair == Hair::Quiff {
            let quiff = Shape::Ellipse { cx: cx + self.side * rx * 0.25, cy: cy - ry * 0.86, rx: rx * 0.8, ry: 30.0 };
            canvas.fill(colour, 1.0, quiff);
        }
    }
}

/// Signed distance of `p` from the line through `a` and `b`: negative on its left (in image
/// coordinates, y down), so a convex corner is the `max` of its two sides.
fn side_of(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    (dx * (p.1 - a.1) - dy * (p.0 - a.0)) / (dx * dx + dy * dy).sqrt()
}

fn scale(colour: Colour, by: f32) -> Colour {
    colour.map(|c| c * by)
}

/// `colour` moved `by` of the way to white.
fn tint(colour: Colour, by: f32) -> Colour {
    colour.map(|c| c + (255.0 - c) * by)
}

fn luminance([r, g, b]: Colour) -> f32 {
    0.3 * r + 0.59 * g + 0.11 * b
}

/// A shape by its signed distance: negative inside, positive outside.
#[derive(Clone, Copy)]
enum Shape {
    Ellipse {
        cx: f32,
        cy: f32,
        rx: f32,
        ry: f32,
    },
    RoundRect {
        x0: f32,
        y0: f32,
        x1: f32,
        y1: f32,
        r: f32,
    },
    /// A line segment from a to b, thickened by r.
    Capsule {
        ax: f32,
        ay: f32,
        bx: f32,
        by: f32,
        r: f32,
    },
}

/// A box: x0, y0, x1, y1.
type Bounds = (f32, f32, f32, f32);

impl Shape {
    fn bounds(self) -> Bounds {
        match self {
            Shape::Ellipse { cx, cy, rx, ry } => (cx - rx, cy - ry, cx + rx, cy + ry),
            Shape::RoundRect { x0, y0, x1, y1, .. } => (x0, y0, x1, y1),
            Shape::Capsule { ax, ay, bx, by, r } => (ax.min(bx) - r, ay.min(by) - r, ax.max(bx) + r, ay.max(by) + r),
        }
    }

    /// The shape with its edge moved outwards by `by` (inwards when negative). Exact for
    /// circles, capsules and rounded boxes; for the gently oval ellipses drawn here, within a
    /// small fraction of `by`.
    fn grown(self, by: f32) -> Shape {
        match self {
            Shape::Ellipse { cx, cy, rx, ry } => Shape::Ellipse { cx, cy, rx: rx + by, ry: ry + by },
            Shape::RoundRect { x0, y0, x1, y1, r } => {
                let r = r.min((x1 - x0) / 2.0).min((y1 - y0) / 2.0);
                Shape::RoundRect { x0: x0 - by, y0: y0 - by, x1: x1 + by, y1: y1 + by, r: (r + by).max(0.0) }
            }
            Shape::Capsule { ax, ay, bx, by: end_y, r } => Shape::Capsule { ax, ay, bx, by: end_y, r: r + by },
        }
    }

    /// Where the line at height `y` crosses the shape: from x to x. A capsule, drawn small
    /// and slanted, answers its bounding box.
    fn span(self, y: f32) -> Option<(f32, f32)> {
        match self {
            Shape::Ellipse { cx, cy, rx, ry } => {
                let t = (y - cy) / ry;
                let half = rx * (1.0 - t * t).max(0.0).sqrt();
                (rx > 0.0 && ry > 0.0 && t.abs() < 1.0).then_some((cx - half, cx + half))
            }
            Shape::RoundRect { x0, y0, x1, y1, r } => {
                let (hx, hy) = ((x1 - x0) / 2.0, (y1 - y0) / 2.0);
                let r = r.min(hx).min(hy);
                let into_corner = (y - (y0 + hy)).abs() - (hy - r);
                let half =
                    if into_corner <= 0.0 { hx } else { hx - r + (r * r - into_corner * into_corner).max(0.0).sqrt() };
                (hx > 0.0 && hy > 0.0 && into_corner < r).then_some((x0 + hx - half, x0 + hx + half))
            }
            Shape::Capsule { r, .. } => {
                let (x0, y0, x1, y1) = self.bounds();
                (r > 0.0 && (y0..=y1).contains(&y)).then_some((x0, x1))
            }
        }
    }

    fn distance(self, x: f32, y: f32) -> f32 {
        match self {
            Shape::Ellipse { cx, cy, rx, ry } => {
                // The usual first-order estimate (the implicit function over its gradient):
                // close to exact within a pixel of the edge, which is all the shading needs.
                let (px, py) = ((x - cx) / rx, (y - cy) / ry);
                let k0 = (px * px + py * py).sqrt();
                let (gx, gy) = (px / rx, py / ry);
                let k1 = (gx * gx + gy * gy).sqrt();
                if k1 == 0.0 { -rx.min(ry) } else { k0 * (k0 - 1.0) / k1 }
            }
            Shape::RoundRect { x0, y0, x1, y1, r } => {
                let (hx, hy) = ((x1 - x0) / 2.0, (y1 - y0) / 2.0);
                let r = r.min(hx).min(hy);
                let qx = (x - (x0 + hx)).abs() - hx + r;
                let qy = (y - (y0 + hy)).abs() - hy + r;
                let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
                outside + qx.max(qy).min(0.0) - r
            }
            Shape::Capsule { ax, ay, bx, by, r } => {
                let (pax, pay, bax, bay) = (x - ax, y - ay, bx - ax, by - ay);
                let along = ((pax * bax + pay * bay) / (bax * bax + bay * bay)).clamp(0.0, 1.0);
                ((pax - bax * along).powi(2) + (pay - bay * along).powi(2)).sqrt() - r
            }
        }
    }
}

/// The figure is laid out on a 384-unit square and drawn a little larger, about a point below
/// the face, so the face fills more of a small photo (the top of a tall bun or of curls may be
/// cut off, as in a real photo).
const ZOOM: f32 = 1.18;
const DESIGN_CENTRE: f32 = SIDE as f32 / 2.0;
const ZOOM_Y: f32 = 250.0;

/// RGB bytes, row by row, as `RgbImage` holds them.
struct Canvas {
    bytes: Vec<u8>,
}

impl Canvas {
    /// A canvas of `background`, a little darker towards the bottom.
    fn new(background: Colour) -> Canvas {
        let mut bytes = Vec::with_capacity((SIDE * SIDE * 3) as usize);
        for row in 0..SIDE {
            let shade = scale(background, 1.0 - 0.1 * row as f32 / SIDE as f32).map(|c| c.round() as u8);
            // A whole row at once: pixel by pixel is slow in a debug build.
            bytes.extend_from_slice([shade; SIDE as usize].as_flattened());
        }
        Canvas { bytes }
    }

    fn fill(&mut self, colour: Colour, opacity: f32, shape: Shape) {
        self.paint(colour, opacity, shape, shape.bounds(), None);
    }

    /// Fills where `shape` and `also` (a signed distance) are both negative; `limit` is a box
    /// known to hold all of that, so that rows and columns outside it are skipped.
    fn fill_where(
        &mut self,
        colour: Colour,
        opacity: f32,
        shape: Shape,
        limit: Bounds,
        also: impl Fn(f32, f32) -> f32,
    ) {
        self.paint(colour, opacity, shape, limit, Some(&also));
    }

    /// A line `half_width` either side of `shape`'s edge, within `limit`.
    fn outline(&mut self, colour: Colour, shape: Shape, half_width: f32, limit: Bounds) {
        self.fill_where(colour, 1.0, shape.grown(half_width), limit, |x, y| shape.distance(x, y).abs() - half_width);
    }

    /// Row by row over the shape's span: the pixels more than a pixel inside a plain shape at
    /// full opacity are copied in one run; every other is covered in proportion to its
    /// distance from the edge (half a pixel either side), which smooths outlines.
    fn paint(
        &mut self,
        colour: Colour,
        opacity: f32,
        shape: Shape,
        limit: Bounds,
        also: Option<&dyn Fn(f32, f32) -> f32>,
    ) {
        let pixel = 1.0 / ZOOM; // one pixel in design units
        let (lx0, ly0, lx1, ly1) = limit;
        let (_, sy0, _, sy1) = shape.bounds();
        let first_row = to_pixel(ly0.max(sy0) - pixel, ZOOM_Y).floor().max(0.0) as usize;
        let last_row = (to_pixel(ly1.min(sy1) + pixel, ZOOM_Y).ceil().max(0.0) as usize).min(SIDE as usize);
        // Spans of the shape a pixel and a half larger (every pixel it touches) and a pixel and
        // a half smaller (those it covers wholly).
        let (outer, inner) = (shape.grown(1.5 * pixel), shape.grown(-1.5 * pixel));
        let solid = also.is_none() && opacity >= 1.0;
        let run = [colour.map(|c| (c + 0.5) as u8); SIDE as usize];
        let run = run.as_flattened();
        let column_of = |x: f32| (to_pixel(x, DESIGN_CENTRE).max(0.0) as usize).min(SIDE as usize);
        for row in first_row..last_row {
            let y = to_design(row as f32 + 0.5, ZOOM_Y);
            let Some((left, right)) = outer.span(y) else { continue };
            let first = column_of(left.max(lx0 - pixel));
            let last = (column_of(right.min(lx1 + pixel)) + 1).min(SIDE as usize);
            // Columns whose centres lie inside the smaller shape, if it is to be copied.
            let (whole_from, whole_to) = match inner.span(y) {
                Some((from, to)) if solid => {
                    let from = (to_pixel(from, DESIGN_CENTRE) - 0.5).ceil().max(0.0) as usize;
                    let to = ((to_pixel(to, DESIGN_CENTRE) - 0.5).floor() + 1.0).max(0.0) as usize;
                    (from.clamp(first, last), to.clamp(first, last).max(from.clamp(first, last)))
                }
                _ => (last, last),
            };
            let row_at = row * SIDE as usize * 3;
            self.bytes[row_at + whole_from * 3..row_at + whole_to * 3]
                .copy_from_slice(&run[..(whole_to - whole_from) * 3]);
            for column in (first..whole_from).chain(whole_to..last) {
                let x = to_design(column as f32 + 0.5, DESIGN_CENTRE);
                let mut distance = shape.distance(x, y);
                if let Some(also) = also {
                    distance = distance.max(also(x, y));
                }
                let cover = (0.5 - distance * ZOOM).clamp(0.0, 1.0) * opacity;
                if cover > 0.0 {
                    let at = row_at + column * 3;
                    let old = &mut self.bytes[at..at + 3];
                    // `as` saturates: a nudged colour a little past 255 stays 255.
                    old[0] = (f32::from(old[0]) + (colour[0] - f32::from(old[0])) * cover + 0.5) as u8;
                    old[1] = (f32::from(old[1]) + (colour[1] - f32::from(old[1])) * cover + 0.5) as u8;
                    old[2] = (f32::from(old[2]) + (colour[2] - f32::from(old[2])) * cover + 0.5) as u8;
                }
            }
        }
    }

    fn into_image(self) -> RgbImage {
        RgbImage::from_raw(SIDE, SIDE, self.bytes).expect("three bytes a pixel")
    }
}

/// A design coordinate on the canvas, along an axis zoomed about `centre`.
fn to_pixel(design: f32, centre: f32) -> f32 {
    centre + (design - centre) * ZOOM
}

fn to_design(pixel: f32, centre: f32) -> f32 {
    centre + (pixel - centre) / ZOOM
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_draws_the_same_portrait_and_another_key_another() {
        let first = draw(7);
        assert_eq!(first.dimensions(), (SIDE, SIDE));
        assert_eq!(first, draw(7));
        assert_ne!(first, draw(8));
    }

    #[test]
    fn the_choices_vary_over_keys() {
        let looks: Vec<Look> = (0..200).map(Look::of).collect();
        for hair in [Hair::Short, Hair::Long, Hair::Bun, Hair::Curls, Hair::Buzz, Hair::Bald, Hair::Quiff, Hair::Bob] {
            assert!(looks.iter().any(|l| l.hair == hair), "{hair:?}");
        }
        let skins: std::collections::HashSet<u32> = looks.iter().map(|l| luminance(l.skin) as u32 / 20).collect();
        assert!(skins.len() >= 6, "skin tones from light to deep: {skins:?}");
        assert!(looks.iter().any(|l| l.glasses.is_some()) && looks.iter().any(|l| l.beard));
    }

    #[test]
    fn the_face_is_in_the_middle_on_its_background() {
        let look = Look::of(3);
        let image = draw(3);
        let near = |pixel: &image::Rgb<u8>, colour: Colour| {
            pixel.0.iter().zip(colour).all(|(&p, c)| (f32::from(p) - c).abs() < 2.0)
        };
        // Between the eyes and above the nose there is only skin; the top corner is background.
        let y = to_pixel(look.head_y + look.head_rx * look.long_face * 0.16, ZOOM_Y);
        let between_eyes = image.get_pixel(SIDE / 2, y as u32);
        assert!(near(between_eyes, look.skin), "{between_eyes:?} against {:?}", look.skin);
        assert!(near(image.get_pixel(1, 0), look.background), "{:?}", image.get_pixel(1, 0));
    }
}

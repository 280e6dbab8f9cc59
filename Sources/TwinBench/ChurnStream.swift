import SceneCore
import SceneWire

/// A generated stream with the churn of broadcast tracking: 22 players, 3 referees and the
/// ball on a 105 x 68 m pitch at 10 Hz, seen through a camera that follows the ball, so
/// objects enter and leave the picture as it pans (about 1.5% of those in view per frame).
/// Seeded: the same seed gives the same stream.
package struct ChurnStream {
    package struct Frame {
        package var ids: [UInt32] = []
        package var kinds: [UInt8] = []
        package var x: [Float] = []
        package var y: [Float] = []
    }

    var rng: SeededGenerator
    var position: [SIMD2<Float>]
    var velocity: [SIMD2<Float>]
    var camera: SIMD2<Float>
    /// The camera's view: about half the pitch's width and all its depth (the default), or
    /// larger (a whole-pitch view without churn, for comparison).
    package let view: SIMD2<Float>
    package let rate: Float = 10

    package init(seed: UInt64, view: SIMD2<Float> = SIMD2(52, 80)) {
        self.view = view
        rng = SeededGenerator(seed: seed)
        position = []; velocity = []
        for _ in 0..<26 {
            position.append(SIMD2(Float.random(in: 5..<100, using: &rng), Float.random(in: 4..<64, using: &rng)))
            velocity.append(.zero)
        }
        camera = SIMD2(52.5, 34)
    }

    /// The next frame: everyone moves (players up to 8 m/s, the ball faster), the camera
    /// eases towards the ball, and the frame holds those in its view.
    package mutating func next() -> Frame {
        let dt = 1 / rate
        let ball = 25
        for i in position.indices {
            let isBall = i == ball
            // Players drift towards the ball with momentum; the ball is kicked now and then.
            var a = SIMD2(Float.random(in: -3...3, using: &rng), Float.random(in: -3...3, using: &rng))
            if !isBall { a += (position[ball] - position[i]) * 0.03 }
            if isBall && Int.random(in: 0..<30, using: &rng) == 0 {
                velocity[i] = SIMD2(Float.random(in: -18...18, using: &rng), Float.random(in: -12...12, using: &rng))
            }
            velocity[i] += a * dt
            let top: Float = isBall ? 25 : 8
            let speed = (velocity[i].x * velocity[i].x + velocity[i].y * velocity[i].y).squareRoot()
            if speed > top { velocity[i] *= top / speed }
            if isBall { velocity[i] *= 0.98 }
            position[i] += velocity[i] * dt
            if position[i].x < 0 || position[i].x > 105 { velocity[i].x = -velocity[i].x; position[i].x = min(max(position[i].x, 0), 105) }
            if position[i].y < 0 || position[i].y > 68 { velocity[i].y = -velocity[i].y; position[i].y = min(max(position[i].y, 0), 68) }
        }
        camera += (position[ball] - camera) * 0.04
        var f = Frame()
        for i in position.indices {
            let d = position[i] - camera
            guard abs(d.x) < view.x / 2 && abs(d.y) < view.y / 2 else { continue }
            f.ids.append(UInt32(i)); f.kinds.append(i == ball ? 2 : 1)
            // Pitch metres shifted to positive scene coordinates, as the replay does.
            f.x.append(position[i].x + 10); f.y.append(position[i].y + 10)
        }
        return f
    }
}

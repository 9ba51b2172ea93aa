using System.Buffers;
using System.Diagnostics;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Tests.Protocol;

/// <summary>
/// Bounded, reproducible fuzzing: mutated spec packets and random buffers go through the whole receive path in both
/// versions. The only exception allowed out of the decoder is <see cref="MqttProtocolException"/>.
/// </summary>
public sealed class MqttCodecFuzzTests(ITestOutputHelper output)
{
    private const int Iterations = 100_000;
    private const int MaximumPacketSize = 64 * 1024;

    [Fact]
    public void Hundred_thousand_mutated_and_random_packets_raise_only_protocol_errors()
    {
        var random = new Random(20_240_611);
        var seeds = SpecWire.All.Select(entry => entry.Wire).Concat(ExtraSeeds()).ToArray();
        var stopwatch = Stopwatch.StartNew();
        var decoded = 0;
        var rejected = 0;
        for (var i = 0; i < Iterations; i++)
        {
            var input = Mutate(random, seeds[random.Next(seeds.Length)]);
            foreach (var version in (ReadOnlySpan<MqttProtocolVersion>)[MqttProtocolVersion.V311, MqttProtocolVersion.V500])
            {
                try
                {
                    if (Run(input, version))
                    {
                        decoded++;
                    }
                    else
                    {
                        rejected++;
                    }
                }
                catch (Exception e)
                {
                    Assert.Fail($"Iteration {i} ({version}) input {Wire.Hex(input)} threw {e.GetType().Name}: {e}");
                }
            }
        }

        stopwatch.Stop();
        output.WriteLine($"{Iterations} inputs x 2 versions: {decoded} decoded, {rejected} rejected, in {stopwatch.ElapsedMilliseconds} ms");
        Assert.True(decoded > 1_000, $"Only {decoded} inputs decoded; the mutations are too destructive to test much");
        Assert.True(rejected > 10_000, $"Only {rejected} inputs were rejected");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"Fuzzing took {stopwatch.Elapsed}");
    }

    /// <summary>Returns true when every decode of the input succeeded, false when one raised a protocol error.</summary>
    private static bool Run(byte[] input, MqttProtocolVersion version)
    {
        var ok = true;
        MqttFixedHeader header;
        try
        {
            if (!MqttPacketDecoder.TryReadFixedHeader(new ReadOnlySequence<byte>(input), MaximumPacketSize, out header))
            {
                return false;
            }
        }
        catch (MqttProtocolException)
        {
            return false;
        }

        // Feed the body as received; when it is short, also pretend the remaining length matched what arrived.
        var available = Math.Min(header.RemainingLength, input.Length - header.HeaderLength);
        ok &= Try(header, input.AsSpan(header.HeaderLength, available), version);
        if (available != header.RemainingLength)
        {
            ok &= Try(header with { RemainingLength = available }, input.AsSpan(header.HeaderLength, available), version);
        }

        return ok;
    }

    private static bool Try(in MqttFixedHeader header, ReadOnlySpan<byte> body, MqttProtocolVersion version)
    {
        var ok = true;
        try
        {
            MqttPacketDecoder.Decode(header, body, version);
        }
        catch (MqttProtocolException)
        {
            ok = false;
        }

        if (header.Type == MqttPacketType.Publish)
        {
            try
            {
                MqttPacketDecoder.DecodePublish(header, body, version);
            }
            catch (MqttProtocolException)
            {
                ok = false;
            }
        }

        return ok;
    }

    private static byte[] Mutate(Random random, byte[] seed)
    {
        switch (random.Next(8))
        {
            case 0:
            {
                // Flip a few random bits.
                var copy = (byte[])seed.Clone();
                for (var n = random.Next(1, 4); n > 0; n--)
                {
                    copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
                }

                return copy;
            }

            case 1:
            {
                // Replace a few bytes with random values, favouring the interesting ones.
                ReadOnlySpan<byte> interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xC3, 0xED, 0x23, 0x2B, 0x26, 0x0B];
                var copy = (byte[])seed.Clone();
                for (var n = random.Next(1, 4); n > 0; n--)
                {
                    copy[random.Next(copy.Length)] = random.Next(2) == 0 ? interesting[random.Next(interesting.Length)] : (byte)random.Next(256);
                }

                return copy;
            }

            case 2:
                // Truncate.
                return seed[..random.Next(seed.Length)];

            case 3:
            {
                // Extend with random bytes (and usually fix the remaining length to include them).
                var extra = new byte[random.Next(1, 16)];
                random.NextBytes(extra);
                byte[] extended = [.. seed, .. extra];
                if (random.Next(2) == 0 && extended[1] < 0x80 && extended[1] + extra.Length < 0x80)
                {
                    extended[1] = (byte)(extended[1] + extra.Length);
                }

                return extended;
            }

            case 4:
            {
                // Random remaining length, one to five bytes.
                var lengthBytes = new byte[random.Next(1, 6)];
                random.NextBytes(lengthBytes);
                byte[] relengthed = [seed[0], .. lengthBytes, .. seed.AsSpan(2)];
                return relengthed;
            }

            case 5:
            {
                // Insert or delete a byte inside the body, keeping the remaining length as it was.
                var position = random.Next(2, Math.Max(3, seed.Length));
                if (random.Next(2) == 0 && position < seed.Length)
                {
                    return [.. seed.AsSpan(0, position), .. seed.AsSpan(position + 1)];
                }

                return [.. seed.AsSpan(0, Math.Min(position, seed.Length)), (byte)random.Next(256), .. seed.AsSpan(Math.Min(position, seed.Length))];
            }

            case 6:
            {
                // Pure noise with a plausible first byte.
                var noise = new byte[random.Next(0, 64)];
                random.NextBytes(noise);
                if (noise.Length > 1)
                {
                    noise[1] = (byte)random.Next(0, Math.Max(1, noise.Length - 1));
                }

                return noise;
            }

            default:
            {
                // Pure noise.
                var noise = new byte[random.Next(0, 64)];
                random.NextBytes(noise);
                return noise;
            }
        }
    }

    private static IEnumerable<byte[]> ExtraSeeds()
    {
        // Packets that exercise more of the property and payload code than the spec set does.
        yield return Wire.Bytes(0x30, 0x16, 0x00, 0x01, "t", 0x12,
            0x26, 0x00, 0x01, "a", 0x00, 0x01, "1", 0x26, 0x00, 0x01, "a", 0x00, 0x00, 0x0B, 0x01, 0x0B, 0x81, 0x01);
        yield return Wire.Bytes(0x30, 0x13, 0x00, 0x01, "t", 0x0E, 0x08, 0x00, 0x05, "reply", 0x09, 0x00, 0x03, 0x01, 0x02, 0x03, "!");
        yield return Wire.Bytes(0x20, 0x13, 0x01, 0x00, 0x10, 0x25, 0x00, 0x28, 0x01, 0x29, 0x00, 0x2A, 0x01, 0x13, 0x00, 0x1E, 0x11, 0x00, 0x00, 0x01, 0x2C);
        yield return Wire.Bytes(0xE0, 0x0E, 0x9C, 0x0C, 0x1F, 0x00, 0x02, "go", 0x1C, 0x00, 0x04, "b:83");
    }
}

using System.Buffers;
using System.Diagnostics;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Tests.Protocol;

/// <summary>
/// Bounded, reproducible fuzzing: mutated spec packets and random buffers go through the whole receive path in both
/// versions. The only exception allowed out of the decoder is <see cref="MqttProtocolException"/>; each input is
/// handled in bounded time, and what it allocates is bounded by its real size, never by a length it declares.
/// </summary>
public sealed class MqttCodecFuzzTests(ITestOutputHelper output)
{
    private const int Iterations = 100_000;
    private const int MaximumPacketSize = 64 * 1024;

    // Per input, on a machine that may be heavily loaded: a decode takes microseconds, so only a hang or a
    // super-linear path (or a very long stall of the whole machine) reaches this. The total is printed, not asserted.
    private static readonly TimeSpan MaxTimePerInput = TimeSpan.FromSeconds(2);

    // Allocation per input: the decoded strings and byte arrays (UTF-16 doubles a string), the packet objects, and
    // a protocol exception with its message. Independent of any declared length.
    private const long AllocationPerInputByte = 8;
    private const long AllocationPerInputFixed = 32 * 1024;

    [Fact(Timeout = 600_000)]
    public async Task Hundred_thousand_mutated_and_random_packets_raise_only_protocol_errors_in_bounded_time_and_memory()
    {
        // On a worker thread, so the timeout above can end a hang.
        await Task.Run(FuzzDecoder, TestContext.Current.CancellationToken);
    }

    private void FuzzDecoder()
    {
        var random = new Random(20_240_611);
        var seeds = SpecWire.All.Select(entry => entry.Wire).Concat(ExtraSeeds()).ToArray();
        var stopwatch = Stopwatch.StartNew();
        var decoded = 0;
        var rejected = 0;
        var slowest = TimeSpan.Zero;
        long mostAllocated = 0;
        var mostAllocatedInput = "";
        for (var i = 0; i < Iterations; i++)
        {
            var input = Mutate(random, seeds[random.Next(seeds.Length)]);
            foreach (var version in (ReadOnlySpan<MqttProtocolVersion>)[MqttProtocolVersion.V311, MqttProtocolVersion.V500])
            {
                var started = Stopwatch.GetTimestamp();
                var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
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

                var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
                var elapsed = Stopwatch.GetElapsedTime(started);
                slowest = elapsed > slowest ? elapsed : slowest;
                if (allocated > mostAllocated)
                {
                    (mostAllocated, mostAllocatedInput) = (allocated, $"iteration {i} ({version}), {input.Length} bytes");
                }

                Assert.True(elapsed < MaxTimePerInput, $"Iteration {i} ({version}) input {Wire.Hex(input)} took {elapsed}");
                Assert.True(
                    allocated <= AllocationPerInputFixed + (AllocationPerInputByte * input.Length),
                    $"Iteration {i} ({version}) input {Wire.Hex(input)} allocated {allocated} bytes");
            }
        }

        stopwatch.Stop();
        output.WriteLine($"{Iterations} inputs x 2 versions: {decoded} decoded, {rejected} rejected, in {stopwatch.ElapsedMilliseconds} ms; " +
            $"slowest input {slowest.TotalMilliseconds:F1} ms; most allocated {mostAllocated} bytes ({mostAllocatedInput})");
        Assert.True(decoded > 1_000, $"Only {decoded} inputs decoded; the mutations are too destructive to test much");
        Assert.True(rejected > 10_000, $"Only {rejected} inputs were rejected");
    }

    /// <summary>
    /// The receive loop's view: a stream of mutated packets back to back, cut into random segments as a socket would
    /// deliver them. Each step either decodes a packet, throws a protocol error (which ends the connection), or asks
    /// for more data; a declared length beyond the maximum packet size is refused from the header alone.
    /// </summary>
    [Fact(Timeout = 600_000)]
    public async Task Streams_of_mutated_packets_cut_at_random_points_decode_fail_with_a_protocol_error_or_wait_for_more()
    {
        await Task.Run(
            () =>
            {
                var random = new Random(5_311_500);
                // A connection speaks one version: its streams are made of that version's packets.
                var v311 = SpecWire.All.Where(e => e.Version == MqttProtocolVersion.V311).Select(e => e.Wire).ToArray();
                var v500 = SpecWire.All.Where(e => e.Version == MqttProtocolVersion.V500).Select(e => e.Wire).Concat(ExtraSeeds()).ToArray();
                int decoded = 0, protocolErrors = 0, needMore = 0, drained = 0;
                for (var i = 0; i < 10_000; i++)
                {
                    var version = random.Next(2) == 0 ? MqttProtocolVersion.V311 : MqttProtocolVersion.V500;
                    var seeds = version == MqttProtocolVersion.V311 ? v311 : v500;
                    var stream = new List<byte>();
                    for (var n = random.Next(1, 6); n > 0; n--)
                    {
                        var seed = seeds[random.Next(seeds.Length)];
                        stream.AddRange(random.Next(4) == 0 ? Mutate(random, seed) : seed);
                    }

                    var bytes = stream.ToArray();
                    var maximum = random.Next(4) == 0 ? int.MaxValue : MaximumPacketSize;
                    var buffer = Wire.Segmented(bytes, random.Next(1, 16));
                    try
                    {
                        while (MqttPacketDecoder.TryReadFixedHeader(buffer, maximum, out var header) && buffer.Length >= header.TotalLength)
                        {
                            var body = buffer.Slice(header.HeaderLength, header.RemainingLength).ToArray();
                            if (header.Type == MqttPacketType.Publish)
                            {
                                MqttPacketDecoder.DecodePublish(header, body, version);
                            }
                            else
                            {
                                MqttPacketDecoder.Decode(header, body, version);
                            }

                            decoded++;
                            buffer = buffer.Slice(header.TotalLength);
                        }

                        // Whatever is left is the start of a packet still arriving.
                        _ = buffer.IsEmpty ? drained++ : needMore++;
                    }
                    catch (MqttProtocolException)
                    {
                        protocolErrors++;
                    }
                    catch (Exception e)
                    {
                        Assert.Fail($"Stream {i} ({version}, maximum {maximum}) {Wire.Hex(bytes)} threw {e.GetType().Name}: {e}");
                    }
                }

                output.WriteLine($"10000 streams: {decoded} packets decoded; {protocolErrors} ended by a protocol error, {needMore} waiting for more data, {drained} fully read");
                Assert.True(decoded > 10_000 && protocolErrors > 1_000 && needMore > 100 && drained > 1_000, "the streams must reach every outcome often");
            },
            TestContext.Current.CancellationToken);
    }

    [Theory]
    [InlineData(0xFF, 0xFF, 0xFF, 0x7F)] // 268,435,455: the largest remaining length there is
    [InlineData(0x80, 0x80, 0x80, 0x01)] // 2 MiB
    [InlineData(0x81, 0x80, 0x04)] // 65,537: one over the maximum with its header
    public void A_declared_remaining_length_over_the_maximum_is_refused_from_the_header_alone(params int[] lengthBytes)
    {
        byte[] header = [0x30, .. lengthBytes.Select(b => (byte)b), 0x00, 0x01, (byte)'t'];
        var before = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<MqttProtocolException>(() => MqttPacketDecoder.TryReadFixedHeader(new ReadOnlySequence<byte>(header), MaximumPacketSize, out _));

        Assert.Equal((byte)0x95, error.ReasonCode);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 * 1024, "refusing a huge length must not buffer it");
    }

    [Fact]
    public void A_declared_remaining_length_within_the_maximum_but_not_yet_arrived_waits_for_more_data()
    {
        byte[] partial = [0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x01, (byte)'t'];

        Assert.True(MqttPacketDecoder.TryReadFixedHeader(new ReadOnlySequence<byte>(partial), int.MaxValue, out var header));
        Assert.Equal(268_435_455, header.RemainingLength);
        Assert.True(partial.Length < header.TotalLength); // The receive loop waits; nothing is sized by the declared length.
        Assert.False(MqttPacketDecoder.TryReadFixedHeader(new ReadOnlySequence<byte>(partial.AsMemory(0, 3)), int.MaxValue, out _));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public void Lengths_declared_inside_a_body_beyond_its_end_are_protocol_errors_that_allocate_little(MqttProtocolVersion version)
    {
        var v5 = version == MqttProtocolVersion.V500;

        // A PUBLISH whose topic claims 65,535 bytes, a CONNECT whose client id claims 65,535 (5.0) or 255 (3.1.1),
        // and a PUBLISH whose property block claims 268 MB (in 3.1.1 those bytes are just payload): each body is a
        // few bytes long.
        (byte[] Wire, bool Fails)[] packets =
        [
            ([0x30, 0x04, 0xFF, 0xFF, (byte)'t', (byte)'x'], true),
            ([0x10, 0x0E, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', (byte)(v5 ? 5 : 4), 0x02, 0x00, 0x3C, 0x00, 0xFF, 0xFF, 0x41], true),
            ([0x30, 0x09, 0x00, 0x01, (byte)'t', 0xFF, 0xFF, 0xFF, 0x7F, 0x01, 0x01], v5),
        ];
        foreach (var (wire, fails) in packets)
        {
            var header = MqttPacketDecoder.TryReadFixedHeader(new ReadOnlySequence<byte>(wire), MaximumPacketSize, out var h) ? h : throw new InvalidOperationException("header");
            var body = wire.AsSpan(header.HeaderLength).ToArray();
            var before = GC.GetAllocatedBytesForCurrentThread();

            var failed = false;
            try
            {
                if (header.Type == MqttPacketType.Publish)
                {
                    MqttPacketDecoder.DecodePublish(header, body, version);
                }
                else
                {
                    MqttPacketDecoder.Decode(header, body, version);
                }
            }
            catch (MqttProtocolException)
            {
                failed = true;
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(failed == fails, $"{Wire.Hex(wire)}: failed {failed}");
            Assert.True(allocated < 16 * 1024, $"{Wire.Hex(wire)} allocated {allocated} bytes");
        }
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
        switch (random.Next(9))
        {
            case 8:
            {
                // Inflate a length declared inside the body: a two-byte string length of 65,535, or a variable byte
                // integer (property length) of 268 MB. The decoder must refuse it from the bytes present, not size by it.
                var copy = (byte[])seed.Clone();
                if (copy.Length > 4)
                {
                    var at = random.Next(2, copy.Length - 1);
                    copy[at] = 0xFF;
                    copy[at + 1] = random.Next(2) == 0 ? (byte)0xFF : (byte)0x7F;
                    if (at + 3 < copy.Length && random.Next(2) == 0)
                    {
                        copy[at + 1] = 0xFF;
                        copy[at + 2] = 0xFF;
                        copy[at + 3] = 0x7F;
                    }
                }

                return copy;
            }

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

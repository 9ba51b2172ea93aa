using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Fleet.Mqtt.Protocol;

/// <summary>
/// Reads the MQTT data types (5.0 §1.5, 3.1.1 §1.5) from a packet body. Every length is checked against
/// what remains before anything is sliced or allocated, so a hostile length is a protocol error and never
/// an allocation or an out-of-range access. The <c>...Bytes</c> variants return validated slices and allocate nothing.
/// </summary>
internal ref struct MqttBufferReader
{
    /// <summary>Largest value a Variable Byte Integer can carry (5.0 §1.5.5).</summary>
    public const int MaxVariableByteInteger = 268_435_455;

    private readonly ReadOnlySpan<byte> _buffer;
    private int _position;

    public MqttBufferReader(ReadOnlySpan<byte> buffer, MqttProtocolVersion version)
    {
        _buffer = buffer;
        Version = version;
    }

    /// <summary>The version whose clause numbers the errors cite.</summary>
    public MqttProtocolVersion Version { get; }

    public readonly int Remaining => _buffer.Length - _position;

    public readonly int Position => _position;

    public readonly bool IsAtEnd => _position == _buffer.Length;

    public byte ReadByte()
    {
        Require(1, "Byte", Clause("5.0 §1.5.1", "3.1.1 §1.5.1"));
        return _buffer[_position++];
    }

    public ushort ReadTwoByteInteger()
    {
        Require(2, "Two Byte Integer", Clause("5.0 §1.5.2", "3.1.1 §1.5.2"));
        var value = BinaryPrimitives.ReadUInt16BigEndian(_buffer.Slice(_position, 2));
        _position += 2;
        return value;
    }

    public uint ReadFourByteInteger()
    {
        Require(4, "Four Byte Integer", "5.0 §1.5.3");
        var value = BinaryPrimitives.ReadUInt32BigEndian(_buffer.Slice(_position, 4));
        _position += 4;
        return value;
    }

    /// <summary>Reads a Variable Byte Integer (5.0 §1.5.5, 3.1.1 §2.2.3): at most four bytes, minimally encoded.</summary>
    public uint ReadVariableByteInteger()
    {
        var status = TryParseVariableByteInteger(_buffer[_position..], out var value, out var length);
        if (status == VariableByteIntegerStatus.Incomplete)
        {
            throw new MqttProtocolException(Clause("5.0 §1.5.5", "3.1.1 §2.2.3"), "Variable Byte Integer runs past the end of the packet");
        }

        ThrowIfMalformed(status);
        _position += length;
        return (uint)value;
    }

    /// <summary>Reads a UTF-8 Encoded String and returns its validated bytes without allocating.</summary>
    public ReadOnlySpan<byte> ReadUtf8EncodedStringBytes()
    {
        var length = ReadTwoByteLength("UTF-8 Encoded String", Clause("5.0 §1.5.4", "3.1.1 §1.5.3"));
        var bytes = _buffer.Slice(_position, length);
        ValidateUtf8(bytes, Version);
        _position += length;
        return bytes;
    }

    public string ReadUtf8EncodedString() => Encoding.UTF8.GetString(ReadUtf8EncodedStringBytes());

    /// <summary>Reads Binary Data (5.0 §1.5.6; 3.1.1 uses the same layout for the password and will message).</summary>
    public ReadOnlySpan<byte> ReadBinaryData()
    {
        var length = ReadTwoByteLength("Binary Data", Clause("5.0 §1.5.6", "3.1.1 §3.1.3"));
        var bytes = _buffer.Slice(_position, length);
        _position += length;
        return bytes;
    }

    /// <summary>Reads a UTF-8 String Pair (5.0 §1.5.7); both strings obey §1.5.4 [MQTT-1.5.7-1].</summary>
    public void ReadUtf8StringPairBytes(out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        name = ReadUtf8EncodedStringBytes();
        value = ReadUtf8EncodedStringBytes();
    }

    public MqttUserProperty ReadUtf8StringPair()
    {
        ReadUtf8StringPairBytes(out var name, out var value);
        return new MqttUserProperty(Encoding.UTF8.GetString(name), Encoding.UTF8.GetString(value));
    }

    /// <summary>Takes exactly <paramref name="count"/> bytes, e.g. a property block whose length was read first.</summary>
    public ReadOnlySpan<byte> ReadBytes(int count, string what, string clause)
    {
        if (count < 0 || count > Remaining)
        {
            throw new MqttProtocolException(clause, $"{what} of {count} bytes runs past the end of the packet ({Remaining} left)");
        }

        var bytes = _buffer.Slice(_position, count);
        _position += count;
        return bytes;
    }

    /// <summary>Takes everything that is left (a PUBLISH payload, a list of reason codes).</summary>
    public ReadOnlySpan<byte> ReadToEnd()
    {
        var bytes = _buffer[_position..];
        _position = _buffer.Length;
        return bytes;
    }

    /// <summary>Leftover bytes mean the remaining length and the content disagree: a malformed packet.</summary>
    public readonly void EnsureAtEnd(string packetName)
    {
        if (!IsAtEnd)
        {
            throw new MqttProtocolException(Clause("5.0 §2.1.4", "3.1.1 §2.2.3"), $"{packetName} has {Remaining} unexpected bytes after its content");
        }
    }

    public readonly string Clause(string v500, string v311) => Version == MqttProtocolVersion.V311 ? v311 : v500;

    /// <summary>Checks a UTF-8 Encoded String (5.0 §1.5.4, 3.1.1 §1.5.3) without allocating.</summary>
    public static void ValidateUtf8(ReadOnlySpan<byte> bytes, MqttProtocolVersion version)
    {
        // Utf8.IsValid rejects overlong forms and encoded surrogates (U+D800..U+DFFF), which is what the spec forbids.
        if (!Utf8.IsValid(bytes))
        {
            throw new MqttProtocolException(
                version == MqttProtocolVersion.V311 ? "MQTT-1.5.3-1" : "MQTT-1.5.4-1",
                "UTF-8 Encoded String is not well-formed UTF-8 or encodes a surrogate");
        }

        // In well-formed UTF-8 the only encoding of U+0000 is the single byte 0x00.
        if (bytes.Contains((byte)0))
        {
            throw new MqttProtocolException(
                version == MqttProtocolVersion.V311 ? "MQTT-1.5.3-2" : "MQTT-1.5.4-2",
                "UTF-8 Encoded String contains the null character U+0000");
        }
    }

    internal enum VariableByteIntegerStatus
    {
        Ok,
        Incomplete,
        TooLong,
        NotMinimal,
    }

    /// <summary>
    /// Parses a Variable Byte Integer from the start of <paramref name="source"/> without throwing, so the fixed-header
    /// reader can tell "need more bytes" apart from "malformed".
    /// </summary>
    internal static VariableByteIntegerStatus TryParseVariableByteInteger(ReadOnlySpan<byte> source, out int value, out int length)
    {
        value = 0;
        length = 0;
        var multiplier = 1;
        for (var i = 0; i < 4; i++)
        {
            if (i >= source.Length)
            {
                return VariableByteIntegerStatus.Incomplete;
            }

            var encoded = source[i];
            value += (encoded & 0x7F) * multiplier;
            if ((encoded & 0x80) == 0)
            {
                length = i + 1;

                // A final byte of zero after a continuation adds nothing: a longer encoding than needed [MQTT-1.5.5-1].
                return encoded == 0 && i > 0 ? VariableByteIntegerStatus.NotMinimal : VariableByteIntegerStatus.Ok;
            }

            multiplier *= 128;
        }

        // The fourth byte still had its continuation bit set, so a fifth byte would follow.
        return VariableByteIntegerStatus.TooLong;
    }

    internal static void ThrowIfMalformed(VariableByteIntegerStatus status)
    {
        switch (status)
        {
            case VariableByteIntegerStatus.TooLong:
                throw new MqttProtocolException("MQTT-1.5.5-1", "Variable Byte Integer is longer than four bytes");
            case VariableByteIntegerStatus.NotMinimal:
                throw new MqttProtocolException("MQTT-1.5.5-1", "Variable Byte Integer does not use the minimum number of bytes");
            default:
                break;
        }
    }

    private int ReadTwoByteLength(string what, string clause)
    {
        Require(2, what, clause);
        int length = BinaryPrimitives.ReadUInt16BigEndian(_buffer.Slice(_position, 2));
        if (length > Remaining - 2)
        {
            throw new MqttProtocolException(clause, $"{what} of {length} bytes runs past the end of the packet ({Remaining - 2} left)");
        }

        _position += 2;
        return length;
    }

    private readonly void Require(int count, string what, string clause)
    {
        if (Remaining < count)
        {
            throw new MqttProtocolException(clause, $"{what} runs past the end of the packet");
        }
    }
}

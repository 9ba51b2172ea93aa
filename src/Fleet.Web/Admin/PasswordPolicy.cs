namespace Fleet.Web.Admin;

/// <summary>
/// What a password set by an administrator must be: 10 to 256 characters, with a letter and a digit, not containing
/// the username and not one repeated character. Length matters most; the rest refuses the guesses tried first.
/// </summary>
public static class PasswordPolicy
{
    public const int MinLength = 10;
    public const int MaxLength = 256;

    public const string Rule = "At least 10 characters (at most 256), with at least one letter and one digit, not containing the username.";

    /// <summary>Null when <paramref name="password"/> is acceptable for <paramref name="username"/>, else why not.</summary>
    public static string? Check(string? password, string? username)
    {
        if (string.IsNullOrEmpty(password))
        {
            return "Required. " + Rule;
        }

        if (password.Length < MinLength || password.Length > MaxLength)
        {
            return $"Must be {MinLength} to {MaxLength} characters long. " + Rule;
        }

        if (!password.Any(char.IsLetter) || !password.Any(char.IsDigit))
        {
            return "Must contain at least one letter and one digit. " + Rule;
        }

        if (password.Distinct().Count() < 4)
        {
            return "Too few different characters. " + Rule;
        }

        if (username is { Length: >= 3 } && password.Contains(username, StringComparison.OrdinalIgnoreCase))
        {
            return "Must not contain the username. " + Rule;
        }

        return null;
    }
}

# Rotation of secret_key_base (playbooks/rotate-secrets.yml, docs/runbooks/secrets-rotation.md):
# while SECRET_KEY_BASE_PREVIOUS is set, cookies encrypted or signed with the previous value (the
# session, and its CSRF token) are still read, and written again with the current one, so a
# rotation signs nobody out. Remove the previous value once the longest session has ended.
previous = ENV.fetch("SECRET_KEY_BASE_PREVIOUS", "")
unless previous.empty?
  settings = Rails.application.config.action_dispatch
  generator = ActiveSupport::KeyGenerator.new(previous, iterations: 1000)
  cipher = settings.encrypted_cookie_cipher || "aes-256-gcm"
  settings.cookies_rotations.tap do |cookies|
    cookies.rotate :encrypted,
                   generator.generate_key(settings.authenticated_encrypted_cookie_salt,
                                          ActiveSupport::MessageEncryptor.key_len(cipher)),
                   cipher: cipher
    cookies.rotate :signed, generator.generate_key(settings.signed_cookie_salt),
                   digest: settings.signed_cookie_digest || "SHA1"
  end
end
